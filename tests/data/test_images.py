import os
import pathlib
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from siamesekit.data import load_image
from siamesekit.errors import ImageError, ImageNotFoundError, InvalidArgumentError

# Runs once, under TensorFlow: decoding is numpy and OpenCV.
pytestmark = pytest.mark.backend_neutral


def _encode(extension, array, params=()):
    ok, encoded = cv2.imencode(extension, array, params)
    assert ok
    return encoded.tobytes()


def _png_header_only(width, height):
    """A valid PNG signature and IHDR for a huge image, with one row of data."""

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", row)
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def rgb(rng):
    return rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)


def test_png_file_is_rgb_float32(tmp_path, rgb):
    path = tmp_path / "x.png"
    # OpenCV writes BGR, so the file holds `rgb` in RGB order.
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    for source in (path, str(path), path.read_bytes()):
        pixels = load_image(source)
        assert pixels.dtype == np.float32
        np.testing.assert_array_equal(pixels, rgb.astype(np.float32))


def test_alpha_is_dropped_and_grey_expanded(tmp_path, rgb):
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 7, np.uint8)], -1)
    path = tmp_path / "alpha.png"
    cv2.imwrite(str(path), rgba[:, :, [2, 1, 0, 3]])
    np.testing.assert_array_equal(load_image(path), rgb)
    np.testing.assert_array_equal(load_image(rgba), rgb)

    grey = rgb[:, :, 0]
    np.testing.assert_array_equal(load_image(grey), grey[:, :, None])
    expanded = load_image(grey, channels=3)
    assert expanded.shape == (12, 10, 3)
    for channel in range(3):
        np.testing.assert_array_equal(expanded[:, :, channel], grey)


def test_rgb_to_grey_uses_luma_weights():
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 200
    grey = load_image(red, channels=1)
    assert grey.shape == (2, 2, 1)
    np.testing.assert_allclose(grey, 0.299 * 200, atol=0.01)


def test_uint16_and_float_scales(tmp_path):
    deep = np.array([[0, 65535], [257 * 10, 257 * 200]], np.uint16)
    expected = np.array([[0, 255], [10, 200]], np.float32)[:, :, None]
    np.testing.assert_allclose(load_image(deep), expected, atol=1e-3)
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), deep)
    np.testing.assert_allclose(load_image(path), expected, atol=1e-3)
    floats = np.array([[0.0, 12.5], [100.0, 255.0]], np.float64)
    np.testing.assert_array_equal(load_image(floats)[:, :, 0], floats)


def test_float_on_unit_scale_warns():
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        load_image(np.array([[0.0, 0.5], [1.0, 0.25]], np.float32))


def test_plain_resize_ignores_aspect_ratio(rgb):
    resized = load_image(rgb, size=(6, 20))
    assert resized.shape == (6, 20, 3)
    constant = load_image(np.full((40, 30), 90, np.uint8), size=(7, 9), channels=3)
    np.testing.assert_allclose(constant, 90.0, atol=1e-4)


def test_real_orl_face(shared_data):
    path = shared_data / "orl_faces" / "s1" / "1.pgm"
    pixels = load_image(path)
    assert pixels.shape == (112, 92, 1)
    assert 0 <= pixels.min() < pixels.max() <= 255
    assert load_image(path, size=(32, 32), channels=3).shape == (32, 32, 3)


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageNotFoundError, match="nope.png"):
        load_image(missing)
    with pytest.raises(FileNotFoundError):
        load_image(str(missing))
    with pytest.raises(ImageNotFoundError, match="directory"):
        load_image(tmp_path)


def test_empty_file_and_non_image_bytes(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png.*empty"):
        load_image(empty)
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image\n" * 20)
    with pytest.raises(ImageError, match=r"notes\.jpg.*not in an image format"):
        load_image(text)
    with pytest.raises(ImageError, match="bytes"):
        load_image(b"\x00\x01garbage")


@pytest.mark.parametrize("extension", [".png", ".jpg", ".pgm"])
def test_truncated_files_are_rejected(tmp_path, rng, extension):
    image = rng.integers(0, 256, size=(64, 48), dtype=np.uint8)
    data = _encode(extension, image)
    path = tmp_path / f"cut{extension}"
    path.write_bytes(data[: len(data) // 2])
    # OpenCV's imread fills a cut JPEG with grey and returns it; decoding
    # through imdecode refuses it, and so must we.
    with pytest.raises(ImageError, match=rf"cut\{extension}"):
        load_image(path)


def test_file_above_the_pixel_limit_is_refused_from_its_header(tmp_path):
    # 40000 x 40000 = 1.6e9 pixels; only the header says so, so the test
    # needs no memory, and nor does load_image.
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(40000, 40000))
    with pytest.raises(ImageError, match=r"huge\.png.*40000x40000.*MAX_IMAGE_PIXELS"):
        load_image(path)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.full((4, 4, 3), np.nan, np.float32), "NaN or infinite"),
        (np.full((4, 4), np.inf), "NaN or infinite"),
        (np.zeros((2, 4, 4, 3), np.uint8), "rank 4.*list"),
        (np.zeros((4,), np.uint8), "rank 1"),
        (np.zeros((4, 4, 2), np.uint8), "has 2"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.full((4, 4), 300, np.int32), r"\[300, 300\]"),
        (np.full((4, 4), -1.0), r"\[-1, -1\]"),
        (np.zeros((4, 4), bool), "dtype bool"),
    ],
)
def test_bad_arrays_are_named(array, match):
    with pytest.raises(ImageError, match=match) as info:
        load_image(array)
    assert f"shape {array.shape}" in str(info.value)


def test_bad_source_type_and_options(rgb):
    with pytest.raises(ImageError, match="list"):
        load_image([[1, 2], [3, 4]])
    with pytest.raises(InvalidArgumentError, match="size"):
        load_image(rgb, size=(0, 4))
    with pytest.raises(InvalidArgumentError, match="channels"):
        load_image(rgb, channels=4)


def test_errors_are_value_and_os_errors(tmp_path):
    with pytest.raises(ValueError):
        load_image(np.zeros((3,)))
    with pytest.raises(OSError):
        load_image(pathlib.Path(tmp_path) / "missing.png")


# --- Bounded decoding (issue #14). Each test reproduces a fuzz finding. ---


@pytest.mark.parametrize("dtype", ["float64", "int8", "int16", "int32", "uint32"])
def test_rgb_tiff_of_any_depth_decodes_in_rgb_order(tmp_path, dtype):
    # These depths used to crash cv2.cvtColor with a raw cv2.error.
    rgb = np.arange(4 * 5 * 3).reshape(4, 5, 3)  # 0..59 fits every depth
    stored = rgb / 255.0 if dtype == "float64" else rgb
    path = tmp_path / f"{dtype}.tiff"
    assert cv2.imwrite(str(path), stored[:, :, ::-1].astype(dtype))
    # Float files are on a 0-1 scale, so they come back times 255.
    np.testing.assert_allclose(load_image(path), rgb, atol=1e-4)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_is_read_as_a_plain_array():
    # np.matrix used to crash the interpreter (SIGSEGV).
    matrix = np.matrix(np.arange(40 * 48, dtype=np.float32).reshape(40, 48) % 256)
    pixels = load_image(matrix)
    assert pixels.shape == (40, 48, 1)
    np.testing.assert_array_equal(pixels[:, :, 0], np.asarray(matrix))


def test_masked_values_are_refused_and_unmasked_arrays_read():
    # The NaN under the mask used to reach the model: similarity 0.0.
    masked = np.ma.masked_invalid(np.array([[np.nan, 1.0], [2.0, 3.0]]))
    with pytest.raises(ImageError, match="masked array.*1 masked value.*filled"):
        load_image(masked)
    unmasked = np.ma.masked_invalid(np.array([[4.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(load_image(unmasked)[:, :, 0], [[4, 1], [2, 3]])


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((4, 4), np.complex64), "dtype complex64"),
        (np.zeros((4, 4), object), "dtype object"),
        (np.zeros((0, 0), np.uint8), "empty"),
        (np.zeros((4, 4, 0), np.uint8), "has 0"),
        (np.zeros((), np.uint8), "rank 0"),
    ],
)
def test_more_bad_arrays(array, match):
    with pytest.raises(ImageError, match=match):
        load_image(array)


def test_big_endian_uint16_is_scaled_like_native():
    big_endian = np.array([[0, 65535]], dtype=">u2")
    np.testing.assert_allclose(load_image(big_endian)[:, :, 0], [[0, 255]])


def _jpeg_declaring(width, height):
    data = bytearray(_encode(".jpg", np.zeros((8, 8, 3), np.uint8)))
    frame = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)


def test_small_jpeg_declaring_18000_squared_is_refused_at_once():
    # Used to decode to a 5.3 GB float32 array in 25 s.
    data = _jpeg_declaring(18000, 18000)
    assert len(data) < 1000
    with pytest.raises(ImageError, match=r"JPEG.*18000x18000.*limit of 33554432"):
        load_image(data)


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".tiff", ".webp"])
def test_header_rewritten_to_30000_squared_is_refused(tmp_path, extension):
    # Such headers used to end in a raw MemoryError after trying 10-12 GiB.
    # Quality 80 makes a lossy WebP (the default, 100, is lossless).
    params = [cv2.IMWRITE_WEBP_QUALITY, 80] if extension == ".webp" else []
    data = bytearray(_encode(extension, np.zeros((16, 24, 3), np.uint8), params))
    if extension == ".png":
        struct.pack_into(">II", data, 16, 30000, 30000)
    elif extension == ".jpg":
        data = bytearray(_jpeg_declaring(30000, 30000))
    elif extension == ".bmp":
        struct.pack_into("<ii", data, 18, 30000, 30000)
    elif extension == ".tiff":
        for width_or_length in (256, 257):
            entry = data.find(struct.pack("<H", width_or_length) + b"\x03\x00")
            struct.pack_into("<I", data, entry + 4, 1)
            struct.pack_into("<HH", data, entry + 8, 30000, 0)
    else:  # lossy WebP: 14-bit sizes, so 16383 x 16383
        struct.pack_into("<HH", data, 26, 16383, 16383)
    path = tmp_path / f"huge{extension}"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"huge\..*declares .*MAX_IMAGE_PIXELS"):
        load_image(path)


def test_pixel_limit_is_a_setting_and_an_argument(monkeypatch):
    data = _encode(".png", np.full((10, 20), 7, np.uint8))
    with pytest.raises(ImageError, match=r"10x20\b|20x10"):
        load_image(data, max_pixels=199)
    assert load_image(data, max_pixels=200).shape == (10, 20, 1)
    monkeypatch.setattr("siamesekit.data.images.MAX_IMAGE_PIXELS", 199)
    with pytest.raises(ImageError, match="limit of 199"):
        load_image(data)


def test_large_jpeg_is_decoded_at_reduced_scale_when_a_small_size_is_asked():
    data = _jpeg_declaring(18000, 18000)
    # 18000 >= 2 * 8 * 32: libjpeg decodes at 1/8 scale (2250 x 2250, 15 MB),
    # which the area resize then averages down; at full scale this would be
    # 972 MB of uint8 before any resize.
    tracemalloc.start()
    try:
        pixels = load_image(data, size=(32, 32), max_pixels=18000**2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pixels.shape == (32, 32, 3)
    assert peak < 2250 * 2250 * 3 * 2


def test_reduced_decoding_matches_a_full_decode(rng):
    smooth = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (512, 512))
    data = _encode(".jpg", smooth)
    reduced = load_image(data, size=(32, 32))  # decoded at 1/8 scale
    full = cv2.resize(load_image(data), (32, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(reduced - full).mean() < 1.0


def test_uint8_is_resized_before_the_float32_conversion(tmp_path):
    # Area resize in uint8, as keras.utils.load_img resizes 8-bit images:
    # (10 + 14 + 10 + 13) / 4 = 11.75 rounds to 12.
    block = np.array([[10, 14, 20, 20], [10, 13, 20, 20]], np.uint8)
    np.testing.assert_array_equal(load_image(block, size=(1, 2))[:, :, 0], [[12, 20]])
    # A large grey file resized and repeated to RGB never exists as full-size
    # float32 (16 MB) or full-size RGB.
    path = tmp_path / "large.png"
    cv2.imwrite(str(path), np.zeros((2000, 2000), np.uint8))
    tracemalloc.start()
    try:
        pixels = load_image(path, size=(32, 32), channels=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pixels.shape == (32, 32, 3)
    assert peak < 2000 * 2000 * 2


def test_fifo_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match=r"pipe\.png.*not a regular file"):
        load_image(fifo)


@pytest.mark.parametrize(
    "path, match",
    [("/dev/zero", "not a regular file"), ("/proc/self/mem", "Could not read")],
)
def test_devices_and_unreadable_files_are_refused(path, match):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(ImageError, match=match):
        load_image(path)


def test_file_above_the_byte_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(_encode(".png", np.zeros((4, 4), np.uint8)))
    size = path.stat().st_size
    assert load_image(path, max_bytes=size).shape == (4, 4, 1)
    with pytest.raises(
        ImageError, match=rf"big\.png.*{size} bytes.*limit of {size - 1}"
    ):
        load_image(path, max_bytes=size - 1)
    monkeypatch.setattr("siamesekit.data.images.MAX_FILE_BYTES", size - 1)
    with pytest.raises(ImageError, match="MAX_FILE_BYTES"):
        load_image(path)


def test_bad_limits_are_refused():
    with pytest.raises(InvalidArgumentError, match="max_pixels"):
        load_image(np.zeros((2, 2), np.uint8), max_pixels=0)
    with pytest.raises(InvalidArgumentError, match="max_bytes"):
        load_image(np.zeros((2, 2), np.uint8), max_bytes=-1)

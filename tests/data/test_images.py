import pathlib
import struct
import zlib

import cv2
import numpy as np
import pytest

from siamesekit.data import load_image
from siamesekit.errors import ImageError, ImageNotFoundError, InvalidArgumentError


def _encode(extension, array):
    ok, encoded = cv2.imencode(extension, array)
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


def test_file_above_opencv_pixel_limit(tmp_path):
    # 40000 x 40000 = 1.6e9 pixels > CV_IO_MAX_IMAGE_PIXELS (2**30); only the
    # header says so, so the test needs no memory.
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(40000, 40000))
    with pytest.raises(ImageError, match=r"huge\.png.*CV_IO_MAX_IMAGE_PIXELS"):
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

"""Decoding images from files, bytes and arrays into float32 pixels.

Everything that reads an image goes through `load_image`, so every part of
siamesekit accepts the same inputs and rejects bad ones with the same typed
errors (`siamesekit.errors.ImageError`, `ImageNotFoundError`).

Decoding is bounded: a file is read only if it is a regular file of at most
`MAX_FILE_BYTES`, and decoded only if its header declares at most
`MAX_IMAGE_PIXELS` pixels, so a small file that claims to be huge costs a
header read, not gigabytes.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Union

import cv2
import numpy as np

from siamesekit.data.image_files import read_image_file
from siamesekit.data.image_headers import (
    SUPPORTED_FORMATS,
    HeaderError,
    ImageHeader,
    read_header,
)
from siamesekit.errors import ImageError, InvalidArgumentError

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

# Keep grey as grey and 16-bit as 16-bit, drop alpha, and apply the EXIF
# orientation (IMREAD_UNCHANGED would ignore it).
_DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR

# Images whose header declares more pixels are refused before decoding.
# 2**25 is 8192 x 4096, or 5792 x 5792: room for a 24- or 33-megapixel
# photo, and the largest power of two that keeps the worst decode under
# 1 GB: OpenCV's PNG decoder needs twice the decoded size (384 MiB for
# 16-bit RGB at 2**25 pixels), and a full-size float32 RGB result takes 12
# bytes a pixel. OpenCV's own limit, 2**30, lets a 1 KB file allocate
# 12 GiB. Read at each call: set it higher for larger photos (at 2**26 a
# full-size 16-bit PNG peaks about 1.2 GB above the import).
MAX_IMAGE_PIXELS = 2**25

# Files larger than this are refused without reading them: 256 MiB holds an
# uncompressed 16-bit RGB image of MAX_IMAGE_PIXELS (192 MiB), and
# compressed files are far smaller. Read at each call: set it to change it.
MAX_FILE_BYTES = 2**28


def describe_source(source) -> str:
    """A short human description of an image input, for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes of encoded image>"
    if isinstance(source, np.ndarray):
        return f"<array of shape {source.shape}, dtype {source.dtype}>"
    return f"<object of type {type(source).__name__}>"


@contextlib.contextmanager
def _quiet_opencv():
    """Silences OpenCV's own log lines; our errors say what went wrong."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _check_header(data: bytes, name: str, max_pixels: int) -> ImageHeader:
    if len(data) == 0:
        raise ImageError(f"The image {name} is empty (0 bytes).")
    try:
        header = read_header(data)
    except HeaderError as error:
        raise ImageError(
            f"Could not decode the image {name}: it looks truncated or corrupt "
            f"({error})."
        ) from None
    if header is None:
        raise ImageError(
            f"Could not decode the image {name}: it is not in an image format "
            f"siamesekit can read ({SUPPORTED_FORMATS})."
        )
    if header.pixels > max_pixels:
        raise ImageError(
            f"The {header.format} image {name} declares {header.width}x"
            f"{header.height} = {header.pixels} pixels, more than the limit of "
            f"{max_pixels}; shrink it, or raise "
            "siamesekit.data.images.MAX_IMAGE_PIXELS."
        )
    return header


def _reduction_flag(header: ImageHeader, size) -> int:
    """IMREAD_REDUCED_* when a JPEG is 16 or more times the size asked for.

    libjpeg then decodes at 1/2, 1/4 or 1/8 scale, skipping most of the work;
    the reduced image stays at least twice the target, so the area resize
    that follows still averages. Other codecs would decode fully and then
    resize without averaging, so they are left alone.
    """
    if size is None or header.format != "JPEG":
        return 0
    smallest, largest = min(header.width, header.height), max(size)
    # The REDUCED_GRAYSCALE bits only set the scale: IMREAD_ANYCOLOR still
    # keeps colour images in colour.
    for scale, flag in (
        (8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
        (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
        (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
    ):
        if smallest >= 2 * scale * largest:
            return flag
    return 0


def _decode(data: bytes, name: str, size, max_pixels: int) -> np.ndarray:
    """Decodes encoded bytes into an HxW or HxWxC array, in BGR order."""
    header = _check_header(data, name, max_pixels)
    flags = _DECODE_FLAGS | _reduction_flag(header, size)
    try:
        with _quiet_opencv():
            image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as error:
        raise ImageError(f"OpenCV could not decode the image {name}: {error}") from (
            error
        )
    if image is None:
        raise ImageError(
            f"Could not decode the {header.format} image {name}: it looks "
            "truncated or corrupt."
        )
    if image.dtype.kind == "f":
        # Float files (TIFF, HDR, PFM) hold intensities in [0, 1] by convention.
        image = image * image.dtype.type(255.0)
    return image


def _as_pixels(
    array: np.ndarray, name: str, size, channels: int | None, bgr: bool = False
) -> np.ndarray:
    """Checks an HxW(xC) array; returns float32 HxWxC pixels in [0, 255].

    Resizing comes before the conversion to float32 and the repetition of
    grey into 3 channels, so a large uint8 image costs its own size once,
    not 4 or 12 times that.
    """
    array = _plain_array(array, name)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        hint = " For a batch, pass a list of images." if array.ndim == 4 else ""
        raise ImageError(
            f"An image must be HxW or HxWxC; the image {name} has rank "
            f"{array.ndim}.{hint}"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError(f"The image {name} is empty.")
    if array.shape[-1] not in (1, 3, 4):
        raise ImageError(
            "An image must have 1 (grey), 3 (RGB) or 4 (RGBA) channels; the "
            f"image {name} has {array.shape[-1]}."
        )
    array = array[:, :, :3]
    if array.dtype not in (np.uint8, np.uint16):
        array = _checked_float(array, name)
    if size is not None:
        array = resize_pixels(array, size)
    if bgr and array.shape[-1] == 3:
        array = array[:, :, ::-1]
    pixels = array.astype(np.float32)
    if array.dtype == np.uint16:
        pixels *= np.float32(255.0 / 65535.0)
    return _convert_channels(pixels, channels)


def _plain_array(array: np.ndarray, name: str) -> np.ndarray:
    """A plain ndarray of native byte order, or a typed error."""
    if isinstance(array, np.ma.MaskedArray):
        masked = int(np.ma.getmaskarray(array).sum())
        if masked:
            raise ImageError(
                f"The masked array {name} has {masked} masked values; an image "
                "has a value at every pixel. Fill them first, for example with "
                "`array.filled(0)`."
            )
        array = array.data
    # Subclasses (np.matrix, ...) index differently; a plain view of the same
    # memory behaves as every other array.
    array = np.asarray(array)
    if array.dtype.kind not in "uif":
        raise ImageError(
            f"Image pixels must be integers or floats; the image {name} has "
            f"dtype {array.dtype}."
        )
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _checked_float(array: np.ndarray, name: str) -> np.ndarray:
    """Float32 pixels from an array that is neither uint8 nor uint16."""
    dtype = array.dtype
    pixels = array.astype(np.float32)
    if np.issubdtype(dtype, np.floating) and not np.isfinite(pixels).all():
        raise ImageError(f"The image {name} contains NaN or infinite values.")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0.0 or high > 255.0:
        raise ImageError(
            f"Pixels of {dtype} images must lie in [0, 255]; the image {name} "
            f"has values in [{low:g}, {high:g}]. Rescale it (uint16 images are "
            "scaled automatically)."
        )
    if np.issubdtype(dtype, np.floating) and high <= 1.0 and high > low:
        warnings.warn(
            f"The float image {name} has all its values in [0, 1]. siamesekit "
            "reads float arrays as 0-255 pixels (the Keras convention); "
            "multiply by 255 if this image is on a 0-1 scale.",
            stacklevel=5,
        )
    return pixels


def _convert_channels(pixels: np.ndarray, channels: int | None) -> np.ndarray:
    if channels is None or pixels.shape[-1] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=-1)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[:, :, np.newaxis]


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes `(height, width, channels)` pixels as `load_image` does.

    uint8 and uint16 pixels stay in their dtype (as `keras.utils.load_img`
    resizes 8-bit images); float pixels are clipped to [0, 255].
    """
    height, width = size
    if pixels.shape[:2] == (height, width):
        return pixels
    shrinking = height * width < pixels.shape[0] * pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (width, height), interpolation=interpolation)
    if resized.ndim == 2:
        resized = resized[:, :, np.newaxis]
    if resized.dtype in (np.uint8, np.uint16):
        return resized
    return np.clip(resized, 0.0, 255.0)


def _check_options(size, channels, max_pixels, max_bytes):
    for limit_name, limit in (("max_pixels", max_pixels), ("max_bytes", max_bytes)):
        if limit is not None and (
            not isinstance(limit, (int, np.integer))
            or isinstance(limit, bool)
            or limit < 1
        ):
            raise InvalidArgumentError(
                f"`{limit_name}` must be a positive integer, or None for the "
                f"module's default. Received: {limit_name}={limit!r}"
            )
    if size is not None:
        valid = (
            isinstance(size, (tuple, list))
            and len(size) == 2
            and all(
                isinstance(dim, (int, np.integer))
                and not isinstance(dim, bool)
                and dim >= 1
                for dim in size
            )
        )
        if not valid:
            raise InvalidArgumentError(
                "`size` must be (height, width) with positive integers, or "
                f"None. Received: size={size!r}"
            )
    if channels not in (None, 1, 3):
        raise InvalidArgumentError(
            f"`channels` must be None, 1 or 3. Received: channels={channels!r}"
        )


def load_image(
    source: ImageSource,
    *,
    size: tuple[int, int] | None = None,
    channels: int | None = None,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Decodes an image into float32 pixels of shape `(height, width, channels)`.

    Files and bytes are decoded with OpenCV (PNG, JPEG, PGM/PPM, BMP, TIFF,
    WebP, ...), with the EXIF orientation applied. Colour comes out in RGB
    order, an alpha channel is dropped, and values are on a 0-255 scale:
    uint8 as is, uint16 divided by 257, float arrays taken to be 0-255
    already (the Keras convention, as `keras.utils.img_to_array` gives), other
    integer arrays must lie in [0, 255]. Files that decode to floats (float
    TIFF) are taken to be on a 0-1 scale, as those formats store them.

    Decoding is bounded: paths must name regular files (a FIFO or device is
    refused, never read) of at most `max_bytes`, and the header must declare
    at most `max_pixels`; a JPEG much larger than `size` is decoded at 1/2,
    1/4 or 1/8 scale. Arrays are already decoded, so these limits do not
    apply to them. Masked arrays are refused if any value is masked (an image
    has a value at every pixel); other ndarray subclasses are read as plain
    arrays.

    Resizing is a plain resize to `size` (aspect ratio not kept, as
    `keras.utils.load_img` does by default), with area interpolation when
    shrinking and bilinear when enlarging. Models trained on images resized
    the same way see the same geometry at inference.

    Args:
        source: a path (`str` or `pathlib.Path`), the encoded bytes of an
            image file, or a numpy array of shape HxW, HxWx1, HxWx3 or HxWx4
            (uint8, uint16, other integers in [0, 255], or floats in
            [0, 255]).
        size: `(height, width)` to resize to, or `None` to keep the size.
            Defaults to `None`.
        channels: `3` for RGB (grey is repeated), `1` for grey (RGB is
            converted with the ITU-R 601 weights), or `None` to keep grey
            grey and colour colour. Defaults to `None`.
        max_pixels: the most pixels a file or bytes may declare in their
            header; larger images are refused before decoding. Defaults to
            `None`, meaning `siamesekit.data.images.MAX_IMAGE_PIXELS`
            (2**25, 8192 x 4096).
        max_bytes: the largest file read, in bytes. Defaults to `None`,
            meaning `siamesekit.data.images.MAX_FILE_BYTES` (2**28, 256 MiB).

    Returns:
        A float32 numpy array of shape `(height, width, channels)` with values
        in [0, 255].

    Raises:
        siamesekit.errors.ImageNotFoundError: the path does not exist or is a
            directory.
        siamesekit.errors.ImageError: the path is not a regular file or
            cannot be read; the file or bytes are too large, empty,
            truncated, corrupt, not an image, or declare more than
            `max_pixels`; or the array has masked values, the wrong rank,
            channels or dtype, or NaN/infinite/out-of-range values. The
            message names the input.

    Example:

    ```python
    pixels = siamesekit.load_image("face.pgm", size=(112, 92), channels=1)
    pixels.shape  # (112, 92, 1)
    ```
    """
    _check_options(size, channels, max_pixels, max_bytes)
    if size is not None:
        size = tuple(int(dim) for dim in size)
    name = describe_source(source)
    max_pixels = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if isinstance(source, (str, os.PathLike)):
        max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
        data = read_image_file(os.fspath(source), name, max_bytes)
        array, bgr = _decode(data, name, size, max_pixels), True
    elif isinstance(source, (bytes, bytearray, memoryview)):
        array, bgr = _decode(bytes(source), name, size, max_pixels), True
    elif isinstance(source, np.ndarray):
        array, bgr = source, False
    else:
        raise ImageError(
            f"An image must be a path, encoded bytes or a numpy array. Received: {name}"
        )
    pixels = _as_pixels(array, name, size, channels, bgr=bgr)
    return np.ascontiguousarray(pixels, dtype=np.float32)

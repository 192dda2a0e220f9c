"""Decoding images from files, bytes and arrays into float32 pixels.

Everything that reads an image goes through `load_image`, so every part of
siamesekit accepts the same inputs and rejects bad ones with the same typed
errors (`siamesekit.errors.ImageError`, `ImageNotFoundError`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Union

import cv2
import numpy as np

from siamesekit.errors import ImageError, ImageNotFoundError, InvalidArgumentError

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

# Keep grey as grey and 16-bit as 16-bit, drop alpha, and apply the EXIF
# orientation (IMREAD_UNCHANGED would ignore it).
_DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR

_JPEG_START = b"\xff\xd8"


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


def _read_file(path: str) -> bytes:
    if not os.path.exists(path):
        raise ImageNotFoundError(f"Image file not found: {path!r}")
    if os.path.isdir(path):
        raise ImageNotFoundError(
            f"Expected an image file but got a directory: {path!r}"
        )
    with open(path, "rb") as file:
        return file.read()


def _decode(data: bytes, name: str) -> np.ndarray:
    if len(data) == 0:
        raise ImageError(f"The image {name} is empty (0 bytes).")
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_opencv():
            image = cv2.imdecode(buffer, _DECODE_FLAGS)
    except cv2.error as error:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(error):
            raise ImageError(
                f"The image {name} has more pixels than OpenCV's limit "
                "CV_IO_MAX_IMAGE_PIXELS (2**30 by default). Shrink the image, "
                "or raise the limit by setting the environment variable "
                "CV_IO_MAX_IMAGE_PIXELS before Python starts."
            ) from error
        raise ImageError(f"OpenCV could not decode the image {name}: {error}") from (
            error
        )
    if image is None:
        if data[:2] == _JPEG_START or data[:8] == b"\x89PNG\r\n\x1a\n":
            problem = "it looks truncated or corrupt"
        else:
            problem = "it is not in an image format OpenCV can read"
        raise ImageError(f"Could not decode the image {name}: {problem}.")
    if image.ndim == 3:
        # OpenCV decodes colour as BGR.
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if np.issubdtype(image.dtype, np.floating):
        # Float files (TIFF, HDR) hold intensities in [0, 1] by convention.
        image = image * np.float32(255.0)
    return image


def _as_pixels(array: np.ndarray, name: str) -> np.ndarray:
    """Checks rank, channels and values; returns float32 HxWxC in [0, 255]."""
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
    if array.shape[-1] == 4:
        array = array[:, :, :3]

    dtype = array.dtype
    if dtype == np.uint8:
        return array.astype(np.float32)
    if dtype == np.uint16:
        return array.astype(np.float32) * np.float32(255.0 / 65535.0)
    if dtype == np.bool_ or not (
        np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
    ):
        raise ImageError(
            f"Image pixels must be integers or floats; the image {name} has "
            f"dtype {dtype}."
        )
    pixels = array.astype(np.float32)
    if not np.isfinite(pixels).all():
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
            stacklevel=4,
        )
    return pixels


def _convert_channels(pixels: np.ndarray, channels: int | None) -> np.ndarray:
    if channels is None or pixels.shape[-1] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=-1)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[:, :, np.newaxis]


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes `(height, width, channels)` pixels as `load_image` does."""
    height, width = size
    if pixels.shape[:2] == (height, width):
        return pixels
    shrinking = height * width < pixels.shape[0] * pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (width, height), interpolation=interpolation)
    if resized.ndim == 2:
        resized = resized[:, :, np.newaxis]
    return np.clip(resized, 0.0, 255.0)


def _check_options(size, channels):
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
) -> np.ndarray:
    """Decodes an image into float32 pixels of shape `(height, width, channels)`.

    Files and bytes are decoded with OpenCV (PNG, JPEG, PGM/PPM, BMP, TIFF,
    WebP, ...), with the EXIF orientation applied. Colour comes out in RGB
    order, an alpha channel is dropped, and values are on a 0-255 scale:
    uint8 as is, uint16 divided by 257, float arrays taken to be 0-255
    already (the Keras convention, as `keras.utils.img_to_array` gives), other
    integer arrays must lie in [0, 255]. Files that decode to floats (float
    TIFF) are taken to be on a 0-1 scale, as those formats store them.

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

    Returns:
        A float32 numpy array of shape `(height, width, channels)` with values
        in [0, 255].

    Raises:
        siamesekit.errors.ImageNotFoundError: the path does not exist or is a
            directory.
        siamesekit.errors.ImageError: the file or bytes are empty, truncated,
            corrupt, not an image, or above OpenCV's pixel limit; or the array
            has the wrong rank, channels, dtype, or NaN/infinite/out-of-range
            values. The message names the input.

    Example:

    ```python
    pixels = siamesekit.load_image("face.pgm", size=(112, 92), channels=1)
    pixels.shape  # (112, 92, 1)
    ```
    """
    _check_options(size, channels)
    name = describe_source(source)
    if isinstance(source, (str, os.PathLike)):
        array = _decode(_read_file(os.fspath(source)), name)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        array = _decode(bytes(source), name)
    elif isinstance(source, np.ndarray):
        array = source
    else:
        raise ImageError(
            f"An image must be a path, encoded bytes or a numpy array. Received: {name}"
        )
    pixels = _as_pixels(array, name)
    pixels = _convert_channels(pixels, channels)
    if size is not None:
        pixels = resize_pixels(pixels, tuple(int(dim) for dim in size))
    return np.ascontiguousarray(pixels, dtype=np.float32)

"""Reading the declared size of an encoded image from its header alone.

`load_image` asks the header how many pixels an image holds before it lets
OpenCV decode it: a file of a few hundred bytes can declare 30000 x 30000
pixels, and OpenCV allocates them before it finds out the data is missing.
Each reader below looks at a few bytes at fixed offsets (or walks a few
markers) and never decodes pixel data, so reading a header costs next to
nothing whatever the file claims.

Where a format could declare its size in more than one place (GIF frames,
TIFF tiles, AVIF items), the largest is taken: the count bounds the work of
the decoder, it need not be exact.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

# The formats this OpenCV build decodes, named for error messages.
SUPPORTED_FORMATS = (
    "PNG, JPEG, BMP, TIFF, WebP, GIF, AVIF, JPEG 2000, PBM/PGM/PPM/PAM, PFM, "
    "Radiance HDR and Sun raster"
)

# OpenCV's decoders give out at most 4 channels; more is not a picture.
_MAX_COMPONENTS = 4


class HeaderError(ValueError):
    """The header is cut short or declares something no image can be."""


class ImageHeader(NamedTuple):
    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _unpack(layout: str, data: bytes, offset: int) -> tuple:
    end = offset + struct.calcsize(layout)
    if offset < 0 or end > len(data):
        raise HeaderError("the header is cut short")
    return struct.unpack_from(layout, data, offset)


def _png(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR":
        raise HeaderError("the PNG does not start with an IHDR chunk")
    return _unpack(">II", data, 16)


_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> tuple[int, int]:
    # Walk the marker segments to the first frame header (SOFn), as libjpeg
    # does; a scan (SOS) or the end (EOI) before it means there is no frame.
    position = 2
    while True:
        while position < len(data) and data[position] != 0xFF:
            position += 1
        while position < len(data) and data[position] == 0xFF:
            position += 1
        if position >= len(data):
            raise HeaderError("the JPEG has no frame header")
        marker = data[position]
        position += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # markers without a length
        if marker in (0xD9, 0xDA):
            raise HeaderError("the JPEG has no frame header before its data")
        (length,) = _unpack(">H", data, position)
        if marker in _JPEG_FRAME_MARKERS:
            _, height, width, components = _unpack(">BHHB", data, position + 2)
            if components > _MAX_COMPONENTS:
                raise HeaderError(f"the JPEG declares {components} components")
            return width, height
        position += length


def _bmp(data: bytes) -> tuple[int, int]:
    (info_size,) = _unpack("<I", data, 14)
    if info_size == 12:  # OS/2 BITMAPCOREHEADER
        return _unpack("<HH", data, 18)
    width, height = _unpack("<ii", data, 18)
    return abs(width), abs(height)  # a negative height means top-down


def _gif(data: bytes) -> tuple[int, int]:
    width, height, flags = _unpack("<HHB", data, 6)
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while position < len(data):
        block = data[position]
        if block == 0x2C:  # image descriptor of the first frame
            left, top, frame_width, frame_height = _unpack("<HHHH", data, position + 1)
            return max(width, left + frame_width), max(height, top + frame_height)
        if block != 0x21:  # only extensions may come before it
            break
        position += 2
        while position < len(data) and data[position] != 0:
            position += data[position] + 1
        position += 1
    raise HeaderError("the GIF has no image")


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = _unpack("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = _unpack("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        sizes = _unpack("<6B", data, 24)
        width = sizes[0] | sizes[1] << 8 | sizes[2] << 16
        height = sizes[3] | sizes[4] << 8 | sizes[5] << 16
        return width + 1, height + 1
    raise HeaderError("the WebP has no VP8, VP8L or VP8X chunk")


# Tags of the first image directory that say how much a decoder allocates:
# ImageWidth, ImageLength, TileWidth, TileLength, SamplesPerPixel.
_TIFF_TAGS = {256: "width", 257: "height", 322: "tile_width", 323: "tile_height"}
_TIFF_SAMPLES = 277
# Field type -> struct code of an unsigned integer value.
_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}


def _tiff(data: bytes) -> tuple[int, int]:
    order = "<" if data[:2] == b"II" else ">"
    (version,) = _unpack(order + "H", data, 2)
    if version == 43:  # BigTIFF
        (directory,) = _unpack(order + "Q", data, 8)
        (count,) = _unpack(order + "Q", data, directory)
        first, entry_size, entry = directory + 8, 20, "HHQ"
    else:
        (directory,) = _unpack(order + "I", data, 4)
        (count,) = _unpack(order + "H", data, directory)
        first, entry_size, entry = directory + 2, 12, "HHI"
    values = {}
    for index in range(min(count, (len(data) - first) // entry_size)):
        offset = first + index * entry_size
        tag, kind, _ = _unpack(order + entry, data, offset)
        if (tag in _TIFF_TAGS or tag == _TIFF_SAMPLES) and kind in _TIFF_TYPES:
            offset += struct.calcsize(entry)
            (values[tag],) = _unpack(order + _TIFF_TYPES[kind], data, offset)
    if 256 not in values or 257 not in values:
        raise HeaderError("the TIFF has no image width or length")
    if values.get(_TIFF_SAMPLES, 1) > _MAX_COMPONENTS:
        raise HeaderError(f"the TIFF declares {values[_TIFF_SAMPLES]} samples")
    # A tile buffer can be larger than the image itself.
    width = max(values[256], values.get(322, 0))
    height = max(values[257], values.get(323, 0))
    return width, height


def _netpbm(data: bytes) -> tuple[int, int]:
    if data[:2] == b"P7":  # PAM: "WIDTH w" and "HEIGHT h" lines
        header = data[:4096]
        width = re.search(rb"^WIDTH\s+(\d+)", header, re.MULTILINE)
        height = re.search(rb"^HEIGHT\s+(\d+)", header, re.MULTILINE)
        if not (width and height):
            raise HeaderError("the PAM header has no WIDTH or HEIGHT")
        return int(width.group(1)), int(height.group(1))
    # P1-P6, PF, Pf: the magic number, then width and height, with comments.
    header = re.sub(rb"#[^\n]*", b" ", data[2:4096])
    fields = header.split(None, 2)
    if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
        raise HeaderError("the header has no width and height")
    return int(fields[0]), int(fields[1])


def _radiance(data: bytes) -> tuple[int, int]:
    end = data.find(b"\n\n", 0, 65536)
    line = data[end + 2 : end + 66].split(b"\n")[0].split()
    if end < 0 or len(line) != 4 or not (line[1].isdigit() and line[3].isdigit()):
        raise HeaderError("the Radiance header has no resolution line")
    # "-Y rows +X columns", or the transposed "+X columns -Y rows".
    rows, columns = int(line[1]), int(line[3])
    return (rows, columns) if line[0][1:] == b"X" else (columns, rows)


def _sun_raster(data: bytes) -> tuple[int, int]:
    return _unpack(">II", data, 4)


def _jpeg_2000(data: bytes) -> tuple[int, int]:
    # JP2 files wrap a codestream; its SIZ segment is what OpenJPEG allocates.
    start = data.find(b"\xff\x4f\xff\x51")
    if start < 0:
        raise HeaderError("the JPEG 2000 file has no codestream")
    width, height, left, top = _unpack(">IIII", data, start + 8)
    (components,) = _unpack(">H", data, start + 40)
    if components > _MAX_COMPONENTS:
        raise HeaderError(f"the JPEG 2000 image declares {components} components")
    return width, height  # the canvas: at least the image's own size


def _avif(data: bytes) -> tuple[int, int]:
    # Every item (the image, grid tiles, alpha) declares its size in an
    # "ispe" property: version and flags, then width and height.
    sizes = [
        _unpack(">II", data, match.end() + 4)
        for match in re.finditer(b"ispe", data[: 1 << 20])
    ]
    if not sizes:
        raise HeaderError("the AVIF has no image size property")
    return max(width for width, _ in sizes), max(height for _, height in sizes)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG", _png),
    (b"\xff\xd8", "JPEG", _jpeg),
    (b"BM", "BMP", _bmp),
    (b"GIF87a", "GIF", _gif),
    (b"GIF89a", "GIF", _gif),
    (b"II*\x00", "TIFF", _tiff),
    (b"MM\x00*", "TIFF", _tiff),
    (b"II+\x00", "TIFF", _tiff),
    (b"MM\x00+", "TIFF", _tiff),
    (b"\x59\xa6\x6a\x95", "Sun raster", _sun_raster),
    (b"#?RADIANCE", "Radiance HDR", _radiance),
    (b"#?RGBE", "Radiance HDR", _radiance),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000", _jpeg_2000),
    (b"\xff\x4f\xff\x51", "JPEG 2000", _jpeg_2000),
)


def _format_and_reader(data: bytes):
    for signature, name, reader in _SIGNATURES:
        if data.startswith(signature):
            return name, reader
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP", _webp
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"mif1", b"msf1"):
        return "AVIF", _avif
    if re.match(rb"P[1-7Ff]\s", data[:3]):
        return ("PFM" if data[1:2] in b"Ff" else "PNM"), _netpbm
    return None, None


def read_header(data: bytes) -> ImageHeader | None:
    """The format and declared size of an encoded image, from its header.

    Args:
        data: the encoded bytes (only their first bytes are looked at, bar
            the JPEG 2000 and AVIF readers, which search for a box).

    Returns:
        An `ImageHeader(format, width, height)`, or `None` when the bytes
        start with none of the signatures in `SUPPORTED_FORMATS`.

    Raises:
        HeaderError: the signature is known but the header is cut short or
            declares a size of zero or more than 4 channels.
    """
    name, reader = _format_and_reader(data)
    if reader is None:
        return None
    width, height = reader(data)
    if width <= 0 or height <= 0:
        raise HeaderError(f"the {name} header declares a size of {width}x{height}")
    return ImageHeader(name, int(width), int(height))

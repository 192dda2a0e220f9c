"""Reading image files with bounded work.

Only regular files are read: a FIFO would block forever and a device such as
`/dev/zero` never ends. Reading stops one byte past the size limit.
"""

from __future__ import annotations

import os
import stat

from siamesekit.errors import ImageError, ImageNotFoundError

_READ_CHUNK = 2**20


def read_image_file(path: str, name: str, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, if it holds at most `max_bytes`.

    Args:
        path: str, the path.
        name: str, how error messages name the file.
        max_bytes: int, the largest file read.

    Raises:
        siamesekit.errors.ImageNotFoundError: no such path, or a directory.
        siamesekit.errors.ImageError: not a regular file, larger than
            `max_bytes`, or unreadable.
    """
    # stat before opening: opening a FIFO blocks until a writer comes, and
    # opening a device can have side effects. O_NONBLOCK keeps a FIFO swapped
    # in between from blocking; fstat then checks what was really opened.
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ImageNotFoundError(f"Image file not found: {name}") from None
    except (OSError, ValueError) as error:
        raise ImageError(f"Could not open the image file {name}: {error}") from None
    if not stat.S_ISREG(mode):
        _refuse_special(mode, name)
    with open(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            _refuse_special(info.st_mode, name)
        if info.st_size > max_bytes:
            _refuse_bytes(info.st_size, name, max_bytes)
        # Files under /proc say they are empty and are not, and a file can
        # grow: read until the end or one byte past the limit.
        chunks, total = [], 0
        wanted = min(info.st_size, max_bytes) + 1
        try:
            while total <= max_bytes:
                chunk = file.read(min(wanted, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                wanted = _READ_CHUNK
        except OSError as error:
            raise ImageError(f"Could not read the image file {name}: {error}") from None
    if total > max_bytes:
        _refuse_bytes(total, name, max_bytes)
    return b"".join(chunks)


def _refuse_special(mode: int, name: str):
    if stat.S_ISDIR(mode):
        raise ImageNotFoundError(f"Expected an image file but got a directory: {name}")
    raise ImageError(
        f"The image path {name} is not a regular file (it is a FIFO, device or "
        "socket); pass the path of an image file."
    )


def _refuse_bytes(size: int, name: str, max_bytes: int):
    raise ImageError(
        f"The image file {name} holds {size} bytes, more than the limit of "
        f"{max_bytes}; shrink it, or raise "
        "siamesekit.data.images.MAX_FILE_BYTES."
    )

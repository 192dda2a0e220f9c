"""Content hashes of image sources: equal hashes mean byte-identical copies."""

from __future__ import annotations

import hashlib
import os
import stat

import numpy as np

from siamesekit.data import images

_CHUNK_BYTES = 1 << 20


def content_hash(source) -> str | None:
    """A hex digest of what a source holds, or `None` if it cannot be read.

    Paths are hashed by the bytes of the file (two copies of one JPEG match,
    a re-encoded copy does not), encoded bytes by themselves, and arrays by
    their dtype, shape and values.

    Args:
        source: a path, encoded bytes or an array.
    """
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(source, (str, os.PathLike)):
        try:
            status = os.stat(source)
            # A pipe or device could block forever; an oversized file is
            # refused by the decoder too.
            if not stat.S_ISREG(status.st_mode):
                return None
            if status.st_size > images.MAX_FILE_BYTES:
                return None
            with open(source, "rb") as file:
                while chunk := file.read(_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError:
            return None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        digest.update(b"bytes")
        digest.update(bytes(source))
    elif isinstance(source, np.ndarray):
        array = np.ascontiguousarray(source)
        digest.update(f"array{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    else:
        # Not an image source: decoding refuses it with a clear error.
        return None
    return digest.hexdigest()

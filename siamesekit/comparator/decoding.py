"""Decoding images ahead of the network, in worker threads.

OpenCV's decoders and resizes, and hashing, release the GIL, so a few
threads decode the next images while the main thread waits for the forward
pass of the current batch: decoding costs little wall time.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import os
from typing import Callable, Iterable, Iterator

import numpy as np

# Marks the end of the sources.
_END = object()


def image_key(pixels: np.ndarray) -> bytes:
    """Content hash: images with equal pixels get the same key."""
    return hashlib.blake2b(pixels.tobytes(), digest_size=16).digest()


def source_key(source):
    """A key for sources that name their content: paths and encoded bytes.

    Arrays get `None`: they are keyed by `image_key` after decoding.
    """
    if isinstance(source, (str, os.PathLike)):
        return ("path", os.path.abspath(os.fspath(source)))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return ("bytes", hashlib.blake2b(bytes(source), digest_size=16).digest())
    return None


def decode_ahead(
    sources: Iterable,
    load: Callable[[object], np.ndarray],
    lookahead: int = 64,
    skip: tuple[type[BaseException], ...] = (),
) -> Iterator[tuple[bytes, np.ndarray] | tuple[None, BaseException]]:
    """Yields `(image_key(pixels), pixels)` for each source, in order.

    Up to `lookahead` sources are decoded ahead by a small thread pool. A
    path or bytes source repeated within the window is decoded once. An error
    raised by `load` is raised when its source's turn comes, as a plain loop
    would, and the decoding ahead stops; an error of a type in `skip` is
    yielded instead, as `(None, error)`, and decoding goes on.

    Args:
        sources: iterable of image sources.
        load: decodes one source into pixels (for example
            `Comparator.load`).
        lookahead: int, images decoded ahead at most (this bounds the
            memory used). Defaults to `64`.
        skip: exception types to yield rather than raise. Defaults to `()`.
    """

    def decode(source):
        try:
            pixels = load(source)
        except skip as error:
            return None, error
        return image_key(pixels), pixels

    workers = min(4, os.cpu_count() or 1)
    recent = collections.OrderedDict()  # source key -> future, bounded
    pending = collections.deque()
    sources = iter(sources)
    executor = concurrent.futures.ThreadPoolExecutor(workers, "siamesekit-decode")
    try:

        def submit_next() -> bool:
            source = next(sources, _END)
            if source is _END:
                return False
            key = source_key(source)
            future = recent.get(key) if key is not None else None
            if future is None:
                future = executor.submit(decode, source)
                if key is not None:
                    recent[key] = future
                    if len(recent) > lookahead:
                        recent.popitem(last=False)
            pending.append(future)
            return True

        while len(pending) < lookahead and submit_next():
            pass
        while pending:
            future = pending.popleft()
            submit_next()
            yield future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)

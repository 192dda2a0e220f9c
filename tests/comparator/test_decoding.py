import threading

import numpy as np
import pytest

from siamesekit.comparator.decoding import decode_ahead, image_key
from siamesekit.errors import ImageError


class CountingLoader:
    """Decodes "names" into small arrays and counts the calls, thread-safely."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.lock = threading.Lock()
        self.fail_on = fail_on

    def __call__(self, source):
        with self.lock:
            self.calls.append(source)
        if source == self.fail_on:
            raise ImageError(f"cannot decode {source}")
        value = int(str(source).split("_")[-1])
        return np.full((2, 2, 1), value, np.float32)


def test_yields_each_source_in_order_with_its_content_key():
    load = CountingLoader()
    names = [f"image_{i}" for i in range(10)]
    decoded = list(decode_ahead(names, load, lookahead=3))
    assert [int(pixels[0, 0, 0]) for _, pixels in decoded] == list(range(10))
    assert [key for key, _ in decoded] == [image_key(p) for _, p in decoded]


def test_a_repeated_path_is_decoded_once():
    load = CountingLoader()
    names = ["image_1", "image_2", "image_1", "image_1", "image_3"]
    decoded = list(decode_ahead(names, load, lookahead=8))
    assert [int(pixels[0, 0, 0]) for _, pixels in decoded] == [1, 2, 1, 1, 3]
    assert sorted(load.calls) == ["image_1", "image_2", "image_3"]


def test_decodes_at_most_lookahead_images_ahead():
    load = CountingLoader()
    names = (f"image_{i}" for i in range(100))
    decoded = decode_ahead(names, load, lookahead=5)
    next(decoded)
    next(decoded)
    # Two consumed, five in flight or done: at most seven decoded.
    assert len(load.calls) <= 7
    decoded.close()
    assert len(load.calls) <= 7


def test_an_error_is_raised_at_its_source_after_the_earlier_images():
    load = CountingLoader(fail_on="image_3")
    decoded = decode_ahead([f"image_{i}" for i in range(6)], load, lookahead=4)
    values = []
    with pytest.raises(ImageError, match="image_3"):
        for _, pixels in decoded:
            values.append(int(pixels[0, 0, 0]))
    assert values == [0, 1, 2]

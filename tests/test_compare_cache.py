"""`build_comparator` (behind `compare_images`) loads a model file once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import siamesekit
from siamesekit import compare


@pytest.fixture
def slow_loads(monkeypatch, tmp_path):
    """Replaces the model file load by a slow stand-in that counts calls."""
    monkeypatch.setattr(compare, "_CACHE", {})
    loads = []
    failures = []

    def from_saved(path, **options):
        loads.append(path)
        time.sleep(0.2)  # long enough for every thread to ask meanwhile
        if failures:
            raise failures.pop()
        return object()

    monkeypatch.setattr(compare.Comparator, "from_saved", staticmethod(from_saved))
    path = tmp_path / "m.keras"
    path.write_bytes(b"stands for a model file")
    return path, loads, failures


def build_from_threads(path, threads=8):
    barrier = threading.Barrier(threads)

    def build(_):
        barrier.wait()
        try:
            return compare.build_comparator(path)
        except Exception as error:
            return error

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(build, range(threads)))


def test_eight_threads_at_once_load_the_model_once(slow_loads):
    path, loads, _ = slow_loads
    comparators = build_from_threads(path)
    assert len(loads) == 1
    assert all(comparator is comparators[0] for comparator in comparators)
    assert compare.build_comparator(path) is comparators[0]
    assert len(loads) == 1


def test_a_failed_load_reaches_every_waiting_thread_and_is_retried(slow_loads):
    path, loads, failures = slow_loads
    failures.append(siamesekit.errors.ModelFileError("corrupt"))
    answers = build_from_threads(path)
    assert len(loads) == 1
    assert all(
        isinstance(answer, siamesekit.errors.ModelFileError) for answer in answers
    )
    # Not cached: the next call loads again, and succeeds.
    assert compare.build_comparator(path) is not None
    assert len(loads) == 2

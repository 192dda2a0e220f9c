"""Fuzzing `load_image` with mutated files, in a subprocess.

The seeds, mutations and worker pool are those of `benchmarks/fuzz_images.py`
(one copy of them); this test runs a smaller, seeded share of it. A worker
that crashes or hangs is reported as such, so a bad file fails the test
clearly instead of killing or stalling pytest.
"""

import collections
import importlib.util
import pathlib

import pytest

# Runs once, under TensorFlow: decoding is numpy and OpenCV.
pytestmark = pytest.mark.backend_neutral

FUZZ_SCRIPT = pathlib.Path(__file__).parents[2] / "benchmarks" / "fuzz_images.py"
FILES_PER_SEED = 10


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_images", FUZZ_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seeds_cover_the_formats_and_decode(fuzz):
    from siamesekit.data.image_headers import read_header

    seeds = fuzz.make_seeds()
    formats = {read_header(encoded).format for encoded in seeds.values()}
    assert {"PNG", "JPEG", "BMP", "TIFF", "WebP", "GIF"} <= formats
    for name, encoded in seeds.items():
        assert read_header(encoded)[1:] == (48, 40), name


def test_mutated_files_give_pixels_or_a_typed_error(fuzz, tmp_path):
    files = fuzz.write_fuzz_files(
        str(tmp_path), FILES_PER_SEED * len(fuzz.make_seeds()), seed=14
    )
    requests = [
        {"how": how, "path": path} for path, _ in files for how in ("path", "bytes")
    ]
    results = fuzz.run_requests(requests, workers=1, timeout=10.0)

    assert len(results) == len(requests) >= 400
    counts = collections.Counter(result["outcome"] for result in results)
    bad = [r for r in results if r["outcome"] not in ("success", "typed error")]
    assert not bad, fuzz.summarize(bad)
    # Both outcomes occur: a test where every file failed (or none did)
    # would say nothing about the decoder.
    assert counts["success"] > 0 and counts["typed error"] > 0
    above_import = max(r["maxrss_kb"] - r["baseline_kb"] for r in results)
    assert above_import < 2**20, fuzz.summarize(results)  # KiB: 1 GiB

"""The unattended GPU script runs here on CPU, as a smoke test."""

import os
import pathlib
import subprocess
import sys

import keras
import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the GPU machine runs the script on PyTorch and JAX, without "
    "TensorFlow; the smoke test runs once, on the faster of the two here",
)
@pytest.mark.slow
def test_gpu_script_runs_on_cpu_and_prints_its_ratios():
    completed = subprocess.run(
        [sys.executable, SCRIPT, "--size", "32", "--pairs", "2", "--steps", "1"]
        + ["--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.count("mixed_float16 / float32:") == 2, completed.stdout
    assert "largest similarity difference" in completed.stdout


DUPLICATES = SCRIPT.parent / "bench_duplicates.py"


def run_quick(script, shared_data):
    """Runs a benchmark script with `--quick` on the checkout's siamesekit."""
    # The checkout's siamesekit, also where another one is installed.
    root = str(SCRIPT.parents[1])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, script, "--quick", "--data", str(shared_data)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )


@pytest.mark.backend_neutral
@pytest.mark.slow
def test_duplicates_benchmark_runs_quickly_and_prints_its_tables(shared_data):
    pytest.importorskip("imagehash")
    completed = run_quick(DUPLICATES, shared_data)
    assert completed.returncode == 0, completed.stderr[-2000:]
    for method in ("duplicates model", "random VGG16", "pHash", "dHash"):
        assert method in completed.stdout, completed.stdout
    assert "Hamming <= 10 (usual)" in completed.stdout
    assert "Per copy kind" in completed.stdout
    assert "Per source of the originals" in completed.stdout

"""The unattended GPU script runs here on CPU, as a smoke test."""

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


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

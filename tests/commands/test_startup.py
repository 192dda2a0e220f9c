"""The command line starts quietly: no TensorFlow chatter, --help without Keras."""

import os
import subprocess
import sys

import pytest

from siamesekit._launch import launched_as_cli
from siamesekit.commands import startup

# Measured: what `import tensorflow` (2.21) writes on stderr on a machine
# without a GPU, then one line that must still come through.
TENSORFLOW_START_UP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796172103.999166    1398 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796172103.999649    1398 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796172104.055660    1398 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796172309.775056    2134 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""  # noqa: E501
REAL_ERROR = (
    "E0000 00:00:1796172309.775056    2134 op_kernel.cc:1857] OP_REQUIRES failed\n"
)


def test_start_up_lines_are_dropped_and_other_lines_kept():
    text = TENSORFLOW_START_UP + REAL_ERROR + "plain line\n"
    assert startup.without_start_up_lines(text) == REAL_ERROR + "plain line\n"


def test_held_back_block_passes_real_c_level_errors_to_stderr(capfd):
    with startup.start_up_lines_held_back():
        os.write(2, (TENSORFLOW_START_UP + "a real error\n").encode())
        os.write(2, b"another error\n")
    os.write(2, b"after the block\n")
    captured = capfd.readouterr()
    assert captured.err == "a real error\nanother error\nafter the block\n"


def test_held_back_block_restores_stderr_when_the_import_fails(capfd):
    with pytest.raises(ImportError):
        with startup.start_up_lines_held_back():
            os.write(2, b"I0000 00:00:1.5    7 port.cc:153] chatter\n")
            raise ImportError("no module")
    os.write(2, b"still stderr\n")
    assert capfd.readouterr().err == "still stderr\n"


@pytest.mark.parametrize(
    "argv, orig_argv, expected",
    [
        (["/venv/bin/siamesekit", "--help"], ["/venv/bin/python", "x"], True),
        (["-m"], ["python", "-m", "siamesekit.cli", "--help"], True),
        (["-m"], ["python", "-X", "importtime", "-m", "siamesekit.cli"], True),
        (["-m"], ["python", "-msiamesekit.cli"], True),
        (["-m"], ["python", "-m", "pytest", "tests"], False),
        (["-c"], ["python", "-c", "import siamesekit"], False),
        (["train.py"], ["python", "train.py"], False),
    ],
)
def test_launched_as_cli(argv, orig_argv, expected):
    assert launched_as_cli(argv, orig_argv) is expected


def run_cli(*arguments, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "siamesekit.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_answers_without_keras_or_tensorflow():
    # The console script's way in: sys.argv[0] names `siamesekit`.
    script = (
        "import sys\n"
        "sys.argv = ['siamesekit', 'compare', '--help']\n"
        "from siamesekit.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    status = exit.code\n"
        "loaded = [m for m in ('keras', 'tensorflow', 'cv2') if m in sys.modules]\n"
        "print('STATUS', status, 'LOADED', loaded)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert completed.stderr == ""
    assert "--method {features,lpips,attribution,pixels}" in completed.stdout
    assert completed.stdout.splitlines()[-1] == "STATUS 0 LOADED []"


def test_usage_errors_are_one_line_and_help_is_silent():
    completed = run_cli("--help")
    assert completed.returncode == 0 and completed.stderr == ""
    assert "compare   compare two images" in completed.stdout
    completed = run_cli("compare", "a.png")
    assert completed.returncode == 2
    assert completed.stderr == (
        "siamesekit compare: error: the following arguments are required: image2 "
        "(see siamesekit compare --help)\n"
    )
    completed = run_cli("evaluate", "m.keras", "faces", "--max-pairs", "0")
    assert completed.returncode == 2
    assert completed.stderr == (
        "siamesekit evaluate: error: argument --max-pairs: must be a positive "
        "integer. Received: 0 (see siamesekit evaluate --help)\n"
    )


def test_a_whole_command_writes_nothing_on_stderr(tmp_path):
    import cv2
    import numpy as np

    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    small = ["--backbone", "small_cnn", "--weights", "none", "--input-size", "32"]
    missing = str(tmp_path / "missing.png")
    # Checked before any network is built: no VGG16 download is attempted.
    completed = run_cli("compare", missing, str(tmp_path / "a.png"))
    assert completed.returncode == 2
    assert completed.stderr == (
        f"siamesekit compare: error: image 1: image file not found: {missing!r}; "
        "check the path.\n"
    )
    completed = run_cli(
        "compare", str(tmp_path / "a.png"), str(tmp_path / "a.png"), *small, "32"
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert completed.stdout.splitlines()[0] == "similarity: 1.000000"

"""Loading Keras and TensorFlow for a command without their start-up chatter.

TensorFlow 2.21 writes 8-9 lines on stderr when it loads (absl's
"WARNING: All log messages before absl::InitializeLog() ...", oneDNN,
cudart_stub, cpu_feature_guard, and on machines without a GPU a failed
cuInit), from C++ and before `TF_CPP_MIN_LOG_LEVEL` is read, so no
environment variable or Python logger silences them. The command therefore
points file descriptor 2 at a temporary file while TensorFlow loads, puts it
back, and passes on every captured line that is not one of these.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

# absl/glog line prefixes: "I0000 00:00:1796172103.999166    1398 port.cc:153] "
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ ([\w.]+):\d+\] ")
# Informational lines, and the errors of looking for a GPU on machines that
# have none; any other warning or error line is passed on.
_HARMLESS_SOURCES = ("cuda_platform.cc", "cuda_executor.cc", "cuda_diagnostics.cc")
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"
_CPU_FEATURES = "To enable the following instructions:"


def is_start_up_line(line: str) -> bool:
    """Whether `line` is TensorFlow's start-up chatter rather than news."""
    if line.startswith(_BANNER) or line.startswith(_CPU_FEATURES):
        return True
    match = _ABSL_LINE.match(line)
    if match is None:
        return False
    severity, source = match.groups()
    return severity == "I" or source in _HARMLESS_SOURCES


def without_start_up_lines(text: str) -> str:
    """`text` without the lines for which `is_start_up_line` holds."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not is_start_up_line(line)
    )


@contextlib.contextmanager
def start_up_lines_held_back():
    """Within the block, file descriptor 2 (C and Python stderr) goes to a
    temporary file; afterwards it is restored and the captured text, less the
    start-up lines, is written to it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = without_start_up_lines(text)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def load_backend() -> None:
    """Imports Keras, TensorFlow and the siamesekit API, holding back the
    start-up lines.

    TensorFlow loads on every Keras backend: the tf.data pipelines of train,
    evaluate and demo need it, and on JAX even compare loads it (measured),
    later, where its lines could not be held back.
    """
    with start_up_lines_held_back():
        import keras  # noqa: F401

        try:
            import tensorflow as tf
        except ImportError:  # a JAX or PyTorch install without TensorFlow
            pass
        else:
            # Looking for GPUs is what writes the cuInit line on machines
            # without one; do it now rather than in the middle of the output.
            tf.config.list_physical_devices("GPU")
        import siamesekit._api  # noqa: F401  registers every Keras class

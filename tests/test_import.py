"""`import siamesekit` comes first in a fresh process, on every backend."""

import subprocess
import sys

import keras

SCRIPT = """
import sys
import siamesekit
import keras
print(keras.backend.backend(), "tensorflow" in sys.modules)
"""


def test_import_first_loads_tensorflow_only_on_its_own_backend():
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    backend, tensorflow_loaded = completed.stdout.split()
    assert backend == keras.backend.backend()
    # On JAX and PyTorch, TensorFlow waits until a tf.data pipeline is built.
    assert tensorflow_loaded == str(backend == "tensorflow")

"""A `.keras` file saved under one backend loads under another: same scores."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import siamesekit

# Each backend's suite saves a file and loads it under the next one, so the
# three runs of the suite cover the cycle tensorflow -> jax -> torch -> tf.
NEXT_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}

LOAD_SCRIPT = """
import json, sys
import keras, numpy as np
import siamesekit  # registers the classes the file names
model = keras.models.load_model(sys.argv[1], safe_mode=True)
pairs = np.load(sys.argv[2])
distances = model.predict((pairs["first"], pairs["second"]), verbose=0)
comparator = siamesekit.Comparator.from_saved(sys.argv[1], precision="float32")
results = comparator.compare_many(zip(pairs["first"], pairs["second"]))
print(json.dumps({
    "similarities": [result.similarity for result in results],
    "heatmaps": [result.heatmap.tolist() for result in results],
    "distances": np.asarray(distances).tolist(),
    "loss": type(model.loss).__name__,
    "margin": model.loss.margin,
    "optimizer": type(model.optimizer).__name__,
    "threshold": model.threshold,
}))
"""


@pytest.mark.slow
def test_saved_model_loads_under_the_next_backend(tmp_path, rng):
    other = NEXT_BACKEND[keras.backend.backend()]
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(16, 16, 1),
        weights=None,
        dense_units=8,
        embedding_dim=4,
        test_time_zooms=(0.9, 1.0),
        test_time_flip=True,
    )
    model = siamesekit.SiameseModel(tower, threshold=0.7)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=siamesekit.ContrastiveLoss(1.5)
    )
    first = rng.uniform(0, 255, (6, 16, 16, 1)).astype("float32")
    second = rng.uniform(0, 255, (6, 16, 16, 1)).astype("float32")
    model.fit((first, second), np.array([1, 0] * 3, "float32"), epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "pairs.npz", first=first, second=second)

    environment = dict(os.environ, KERAS_BACKEND=other)
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, tmp_path / "model.keras"]
        + [tmp_path / "pairs.npz"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    expected = model.predict((first, second), verbose=0)
    np.testing.assert_allclose(loaded["distances"], expected, atol=1e-5)
    assert loaded["loss"] == "ContrastiveLoss" and loaded["margin"] == 1.5
    assert loaded["optimizer"] == "Adam" and loaded["threshold"] == 0.7
    comparator = siamesekit.Comparator(model, precision="float32")
    results = comparator.compare_many(zip(first, second))
    np.testing.assert_allclose(
        loaded["similarities"], [result.similarity for result in results], atol=1e-3
    )
    np.testing.assert_allclose(
        loaded["heatmaps"], [result.heatmap for result in results], atol=1e-3
    )

"""Keras callbacks that make long training runs safe."""

from __future__ import annotations

import math

import keras

from siamesekit.errors import TrainingDivergedError


class StopOnNaN(keras.callbacks.Callback):
    """Stops training with `TrainingDivergedError` once the loss is NaN or inf.

    Keras' own `TerminateOnNaN` only prints a line and returns normally, so
    a script goes on to save and evaluate a broken model. This callback
    raises instead, naming the epoch and batch and what to try.

    Example:

    ```python
    model.fit(dataset, epochs=10, callbacks=[siamesekit.training.StopOnNaN()])
    ```
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.model.stop_training = True
            raise TrainingDivergedError(
                f"Training diverged: the loss became {loss} at epoch "
                f"{self.epoch + 1}, batch {batch + 1}. Lower the learning rate, "
                "check the images for NaN values, or use L2-normalized "
                "embeddings (normalize=True)."
            )

import os

import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import TrainingDivergedError
from siamesekit.training import StopOnNaN
from siamesekit.training.recipe import TrainingConfig, train_verification_model


def test_nan_loss_stops_training_with_a_clear_error():
    model = siamesekit.create_siamese_model(
        (8, 8, 1), backbone="small_cnn", weights=None, embedding_dim=4, dense_units=4
    )
    images = np.full((4, 8, 8, 1), np.nan, np.float32)
    with pytest.raises(TrainingDivergedError, match="epoch 1, batch 1.*learning rate"):
        model.fit(
            (images, images),
            np.ones(4),
            batch_size=2,
            epochs=2,
            verbose=0,
            callbacks=[StopOnNaN()],
        )


class Interrupt(Exception):
    pass


class InterruptAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt


def test_interrupted_training_resumes_from_its_last_epoch(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (12, 8, 8, 1)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 4)
    config = TrainingConfig(
        epochs=3,
        identities_per_batch=3,
        images_per_identity=2,
        dense_units=4,
        embedding_dim=4,
    )
    backup = tmp_path / "backup"
    with pytest.raises(Interrupt):
        train_verification_model(
            images,
            labels,
            config=config,
            backup_dir=backup,
            callbacks=[InterruptAfterEpoch(1)],
            verbose=0,
        )
    assert os.listdir(backup)

    model, history = train_verification_model(
        images, labels, config=config, backup_dir=backup, verbose=0
    )
    # Epochs 0 and 1 were done before the interruption; only 2 is left.
    assert history.epoch == [2]
    assert model.optimizer is not None and isinstance(model, siamesekit.SiameseModel)
    # Keras removes the backup once training has finished.
    assert not backup.exists() or not os.listdir(backup)

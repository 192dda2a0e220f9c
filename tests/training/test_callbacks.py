import dataclasses
import json
import os

import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import TrainingBackupError, TrainingDivergedError
from siamesekit.training import StopOnNaN, remove_backup
from siamesekit.training.recipe import TrainingConfig, train_verification_model

# Tests marked backend_neutral check the backup's files and messages and run
# once, under TensorFlow; the resume itself (weights, optimizer state, epoch)
# runs on every backend in test_interrupted_training_resumes_from_its_last_epoch.


@pytest.mark.backend_neutral
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
    # The backup is removed once training and whitening are done.
    assert not backup.exists() or not os.listdir(backup)


TINY = TrainingConfig(
    epochs=3,
    identities_per_batch=3,
    images_per_identity=2,
    dense_units=4,
    embedding_dim=4,
    test_time_zooms=None,
    whitening=None,
)


def tiny_images(size=8):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (12, size, size, 1)).astype(np.float32)
    return images, np.repeat([0, 1, 2], 4)


def interrupted_run(backup, epoch, size=8, config=TINY):
    images, labels = tiny_images(size)
    with pytest.raises(Interrupt):
        train_verification_model(
            images,
            labels,
            config=config,
            backup_dir=backup,
            callbacks=[InterruptAfterEpoch(epoch)],
            verbose=0,
        )


@pytest.mark.backend_neutral
def test_a_kill_while_the_backup_is_written_keeps_the_previous_one(
    tmp_path, monkeypatch
):
    backup = tmp_path / "backup"
    images, labels = tiny_images()
    save_weights = keras.Model.save_weights
    saves = []

    def killed_on_second_save(model, filepath, *args, **kwargs):
        saves.append(filepath)
        if len(saves) == 2:
            # What a kill leaves: the file begun, nothing in it.
            open(filepath, "wb").close()
            raise Interrupt
        return save_weights(model, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", killed_on_second_save)
    with pytest.raises(Interrupt):
        train_verification_model(
            images, labels, config=TINY, backup_dir=backup, verbose=0
        )
    monkeypatch.undo()
    assert os.path.getsize(backup / "latest.weights.h5") > 0
    _, history = train_verification_model(
        images, labels, config=TINY, backup_dir=backup, verbose=0
    )
    # Epoch 0 was backed up; the kill came while epoch 1's backup was written.
    assert history.epoch == [1, 2]
    assert not backup.exists()


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "damage, reason",
    [
        ({"latest.weights.h5": b""}, "latest.weights.h5 is empty"),
        ({"training_metadata.json": b""}, "training_metadata.json is not valid JSON"),
        ({"training_metadata.json": b"[]"}, "holds no epoch number"),
        ({"latest.weights.h5": b"garbage"}, "could not be restored"),
    ],
)
def test_a_damaged_backup_says_how_to_start_over(tmp_path, damage, reason):
    backup = tmp_path / "backup"
    interrupted_run(backup, epoch=0)
    for name, content in damage.items():
        (backup / name).write_bytes(content)
    images, labels = tiny_images()
    with pytest.raises(TrainingBackupError, match=reason) as caught:
        train_verification_model(
            images, labels, config=TINY, backup_dir=backup, verbose=0
        )
    assert str(caught.value).endswith(
        f"Delete the folder to start over from epoch 1: rm -r {backup}"
    )
    assert "\n" not in str(caught.value)
    # Nothing is deleted without asking.
    assert (backup / next(iter(damage))).read_bytes() == next(iter(damage.values()))


@pytest.mark.backend_neutral
def test_a_restart_with_other_settings_lists_what_differs(tmp_path):
    backup = tmp_path / "backup"
    interrupted_run(backup, epoch=0)
    images, labels = tiny_images(size=12)
    other = dataclasses.replace(TINY, epochs=5)
    with pytest.raises(TrainingBackupError) as caught:
        train_verification_model(
            images, labels, config=other, backup_dir=backup, verbose=0
        )
    assert (
        "is from a run with other settings: epochs 3 there, 5 now; "
        "image_shape [8, 8, 1] there, [12, 12, 1] now. "
        "Run again with the same settings to resume."
    ) in str(caught.value)


@pytest.mark.backend_neutral
def test_a_backup_path_that_cannot_be_a_folder_is_refused_before_training(
    tmp_path,
):
    images, labels = tiny_images()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("the user's notes")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"jpeg")
    for backup_dir, message in (
        (a_file, "is an existing file"),
        (a_file / "backup", "notes.txt is a file"),
        (tmp_path / "photos", "holds files that are not a training backup's"),
    ):
        with pytest.raises(TrainingBackupError, match=message):
            train_verification_model(
                images, labels, config=TINY, backup_dir=backup_dir, verbose=0
            )
    assert a_file.read_text() == "the user's notes"
    assert os.listdir(tmp_path / "photos") == ["holiday.jpg"]


@pytest.mark.backend_neutral
def test_keep_backup_keeps_it_until_removed(tmp_path):
    backup = tmp_path / "backup"
    images, labels = tiny_images()
    train_verification_model(
        images, labels, config=TINY, backup_dir=backup, keep_backup=True, verbose=0
    )
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 3
    # Run again, it resumes after the last epoch: nothing left to train.
    _, history = train_verification_model(
        images, labels, config=TINY, backup_dir=backup, keep_backup=True, verbose=0
    )
    assert history.epoch == []
    remove_backup(backup)
    assert not backup.exists()


@pytest.mark.backend_neutral
def test_settings_left_without_weights_are_replaced_by_the_new_run(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    # A kill between writing the settings and the first weights.
    (backup / "settings.json").write_text(json.dumps({"epochs": 99}))
    images, labels = tiny_images()
    interrupted_run(backup, epoch=0)
    assert json.loads((backup / "settings.json").read_text())["epochs"] == 3
    _, history = train_verification_model(
        images, labels, config=TINY, backup_dir=backup, verbose=0
    )
    assert history.epoch == [1, 2]

"""Keras callbacks that make long training runs safe."""

from __future__ import annotations

import json
import math
import os
import shlex
import tempfile

import keras

from siamesekit.errors import TrainingBackupError, TrainingDivergedError


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


_SETTINGS_FILE = "settings.json"
_WEIGHTS_FILE = "latest.weights.h5"
_METADATA_FILE = "training_metadata.json"
# What `TrainingBackup` writes; partial files are those cut short by a kill.
_BACKUP_FILES = (
    _WEIGHTS_FILE,
    _METADATA_FILE,
    _SETTINGS_FILE,
    "partial." + _WEIGHTS_FILE,
    "partial." + _METADATA_FILE,
    "partial." + _SETTINGS_FILE,
)


def _start_over(backup_dir):
    return (
        "Delete the folder to start over from epoch 1: "
        f"rm -r {shlex.quote(os.path.abspath(backup_dir))}"
    )


def check_backup_dir(backup_dir) -> str:
    """Refuses, before any training, a backup folder that cannot be used.

    Args:
        backup_dir: path of the folder `TrainingBackup` writes into.

    Returns:
        The path, as a string.

    Raises:
        siamesekit.errors.TrainingBackupError: if the path is a file, lies
            under a file or an unwritable folder, or is a folder holding
            files that are not a training backup's.
    """
    backup_dir = os.fspath(backup_dir)
    if os.path.exists(backup_dir) and not os.path.isdir(backup_dir):
        raise TrainingBackupError(
            f"The backup folder {backup_dir} is an existing file; choose another "
            "backup folder (--backup-dir) or move the file away."
        )
    if os.path.isdir(backup_dir):
        others = sorted(set(os.listdir(backup_dir)) - set(_BACKUP_FILES))
        if others:
            raise TrainingBackupError(
                f"The backup folder {backup_dir} holds files that are not a "
                f"training backup's ({', '.join(others[:3])}); choose a new or "
                "empty backup folder (--backup-dir)."
            )
        parent = backup_dir
    else:
        parent = os.path.dirname(os.path.abspath(backup_dir))
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise TrainingBackupError(
                f"The backup folder {backup_dir} cannot be made: {parent} is a "
                "file. Choose another backup folder (--backup-dir)."
            )
    if not os.access(parent, os.W_OK):
        raise TrainingBackupError(
            f"The backup folder {backup_dir} cannot be written: {parent} is not "
            "writable. Choose another backup folder (--backup-dir)."
        )
    return backup_dir


def remove_backup(backup_dir) -> None:
    """Deletes the files a `TrainingBackup` wrote, then the folder if empty."""
    backup_dir = os.fspath(backup_dir)
    for name in _BACKUP_FILES:
        path = os.path.join(backup_dir, name)
        if os.path.isfile(path):
            os.remove(path)
    if os.path.isdir(backup_dir) and not os.listdir(backup_dir):
        os.rmdir(backup_dir)


def _replace_durably(temporary, path):
    with open(temporary, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _write_json(path, value):
    temporary = os.path.join(os.path.dirname(path), "partial." + os.path.basename(path))
    with open(temporary, "w") as file:
        json.dump(value, file)
    _replace_durably(temporary, path)


class TrainingBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that survives a kill at any moment.

    Differences from Keras' callback:

    - Each backup is written to a temporary file, flushed to disk and then
      renamed over the previous one, so a kill while it is written leaves the
      previous backup intact instead of a truncated `latest.weights.h5`.
    - The backup is kept when `fit` ends; delete it with `remove_backup`
      once the final model is saved.
    - On restore, a truncated or unreadable backup, or one written by a run
      with other `settings`, raises `TrainingBackupError` saying what is
      wrong and the command that starts over.
    - Only its own files are ever deleted, never the folder's other content.
    - Under a `siamesekit.training.DataParallel` it backs up and restores the
      replicated weights like any others; in a multi-process JAX run only
      process 0 writes, and every process restores from the same folder, so
      the folder must be one that all processes see (a shared file system).

    Args:
        backup_dir: folder of the backup; checked by `check_backup_dir`.
        settings: optional JSON-compatible dict of what must not change
            between the interrupted run and the resumed one (the training
            configuration, the image shape, ...). Defaults to `None`.

    Example:

    ```python
    backup = siamesekit.training.TrainingBackup(
        "run.backup", settings={"epochs": 10, "image_shape": [32, 32, 1]}
    )
    model.fit(dataset, epochs=10, callbacks=[backup])
    model.save("model.keras")
    siamesekit.training.remove_backup("run.backup")
    ```
    """

    def __init__(self, backup_dir, settings=None):
        backup_dir = check_backup_dir(backup_dir)
        super().__init__(backup_dir, delete_checkpoint=False)
        # A JSON round trip, so that tuples compare equal to the lists read back.
        self.settings = json.loads(json.dumps(settings or {}))
        self._settings_path = os.path.join(backup_dir, _SETTINGS_FILE)

    def on_train_begin(self, logs=None):
        self._check_restorable()
        try:
            super().on_train_begin(logs)
        except Exception as error:  # h5py and Keras raise many types.
            raise TrainingBackupError(
                f"The training backup in {self.backup_dir} could not be restored "
                f"({type(error).__name__}: {error}). {_start_over(self.backup_dir)}"
            ) from error

    def _unreadable(self, reason):
        return TrainingBackupError(
            f"The training backup in {self.backup_dir} is unreadable: {reason}. "
            f"{_start_over(self.backup_dir)}"
        )

    def _read_json(self, path):
        try:
            with open(path) as file:
                return json.load(file)
        except (OSError, ValueError) as error:
            raise self._unreadable(
                f"{os.path.basename(path)} is not valid JSON ({error})"
            ) from error

    def _check_restorable(self):
        if not os.path.isdir(self.backup_dir):
            return
        has_weights = os.path.isfile(self._weights_path)
        has_metadata = os.path.isfile(self._training_metadata_path)
        if has_weights != has_metadata:
            missing = _METADATA_FILE if has_weights else _WEIGHTS_FILE
            raise self._unreadable(f"{missing} is missing")
        if not has_weights:
            return
        if os.path.getsize(self._weights_path) == 0:
            raise self._unreadable(f"{_WEIGHTS_FILE} is empty")
        metadata = self._read_json(self._training_metadata_path)
        epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise self._unreadable(f"{_METADATA_FILE} holds no epoch number")
        if os.path.isfile(self._settings_path):
            saved = self._read_json(self._settings_path)
            if not isinstance(saved, dict):
                raise self._unreadable(f"{_SETTINGS_FILE} holds no settings")
            differences = [
                f"{name} {saved.get(name)!r} there, {self.settings.get(name)!r} now"
                for name in sorted(set(saved) | set(self.settings))
                if saved.get(name) != self.settings.get(name)
            ]
            if differences:
                raise TrainingBackupError(
                    f"The training backup in {self.backup_dir} is from a run with "
                    f"other settings: {'; '.join(differences)}. Run again with "
                    f"the same settings to resume. {_start_over(self.backup_dir)}"
                )

    def _save_model(self):
        from siamesekit.training.distribution import process_index

        # The processes of a multi-process run hold the same weights; one
        # writer keeps them from overwriting each other's files. Saving runs
        # collectives that every process must join, so the others save to a
        # scratch file.
        if process_index() != 0:
            with tempfile.TemporaryDirectory() as scratch:
                self.model.save_weights(os.path.join(scratch, _WEIGHTS_FILE))
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        # Rewritten each time: a run that starts over in a folder left with
        # only another run's settings must not keep them.
        _write_json(self._settings_path, self.settings)
        # Keras requires the `.weights.h5` ending.
        temporary = os.path.join(self.backup_dir, "partial." + _WEIGHTS_FILE)
        self.model.save_weights(temporary, overwrite=True)
        _replace_durably(temporary, self._weights_path)
        # A kill between the two renames resumes from these weights one
        # epoch early: that epoch is trained once more, nothing is lost.
        _write_json(
            self._training_metadata_path,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen},
        )

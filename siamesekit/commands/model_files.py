"""Saving model files for the commands, never clobbering a file."""

from __future__ import annotations

import os

import keras

from siamesekit.errors import InvalidArgumentError, ModelFileError, ModelFileExistsError


def check_output_path(path: str, *, overwrite: bool) -> str:
    """Fails early, before any training, if `path` cannot be written.

    Raises:
        InvalidArgumentError: if `path` does not end in `.keras`.
        ModelFileExistsError: if `path` exists and `overwrite` is false.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise InvalidArgumentError(
            f"The model file name must end in `.keras`. Received: --out {path}"
        )
    if os.path.exists(path) and not overwrite:
        raise ModelFileExistsError(
            f"{path} already exists; pass --overwrite to replace it, or choose "
            "another --out."
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelFileError(f"The folder of --out {path} does not exist: {folder}")
    return path


def save_model_file(model: keras.Model, path: str, *, overwrite: bool) -> str:
    """Saves `model` to `path` through a temporary file, so a crash never
    leaves a half-written model where the old one was."""
    check_output_path(path, overwrite=overwrite)
    temporary = path[: -len(".keras")] + ".partial.keras"
    model.save(temporary, overwrite=True)
    os.replace(temporary, path)
    return path

"""Saving model files for the commands, never clobbering a file."""

from __future__ import annotations

import os
import zipfile
from typing import TYPE_CHECKING

from siamesekit.errors import InvalidArgumentError, ModelFileError, ModelFileExistsError

if TYPE_CHECKING:
    import keras


def check_model_file(path: str, argument: str = "--model") -> str:
    """Fails early, before Keras reads it, unless `path` is a `.keras` file.

    A `.keras` file is a zip archive holding `config.json`; anything else
    (a text file, an image, a folder) is named for what it is rather than
    reported as missing.

    Raises:
        ModelFileError: if `path` is missing, a folder, or not a `.keras`
            archive.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(
            f"Model file not found: {path!r}; check the {argument} path."
        )
    if os.path.isdir(path):
        raise ModelFileError(
            f"{argument}: {path!r} is a folder; pass a .keras model file."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            valid = "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        valid = False
    if not valid:
        raise ModelFileError(
            f"{argument}: {path!r} is not a valid .keras model file (a zip "
            "archive written by model.save); pass a file saved from a "
            "siamesekit.SiameseModel."
        )
    return path


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

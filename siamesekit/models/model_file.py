"""Loading a saved `.keras` model file, with a typed error."""

from __future__ import annotations

import os

import keras

from siamesekit.errors import ModelFileError


def load_model_file(path, *, compile: bool = True) -> keras.Model:
    """Loads a `.keras` model with `safe_mode=True`.

    Args:
        path: path of the `.keras` file.
        compile: bool, restore the saved training configuration too.
            Defaults to `True`.

    Raises:
        siamesekit.errors.ModelFileError: the file is missing or is not a
            `.keras` model that loads.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"Model file not found: {path}")
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for bad files.
        raise ModelFileError(
            f"Could not load the model file {path}: {error}. It must be a "
            "`.keras` file saved by `siamesekit train` or `model.save`."
        ) from error

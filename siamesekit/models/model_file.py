"""Loading a saved `.keras` model file: checked first, with a typed error.

Every way siamesekit opens a model file (`load_model_file`,
`siamesekit.Comparator.from_saved`, `siamesekit.build_comparator`, the
`siamesekit evaluate` and `compare` commands) goes through `load_model_file`,
so one set of checks refuses a hostile or broken file before Keras reads it:

- The file must be a zip archive holding exactly `metadata.json`,
  `config.json` and `model.weights.h5`, as `model.save` writes them. Any
  other member (an asset folder, a path such as `../x`, a duplicate name) is
  refused, so nothing is ever extracted next to the file or into a
  temporary folder.
- Member sizes are read from the zip's central directory and checked before
  any member is read: `config.json` at most `MAX_CONFIG_BYTES` (16 MiB),
  `metadata.json` at most `MAX_METADATA_BYTES` (1 MiB), `model.weights.h5`
  at most `MAX_WEIGHTS_BYTES` (4 GiB), and no member over 64 MiB that
  expands more than `MAX_EXPANSION` (100) times its stored size (Keras
  stores members uncompressed). Python's `zipfile` never returns more than
  the declared size, so reading stays within these limits.
- A weights member over 16 MiB must also fit the model it belongs to: at
  most 5 times the bytes of the model's variables (the weights and up to
  four optimizer copies: Adam with `amsgrad` and `use_ema` keeps four) plus
  16 MiB and 16 KiB per variable of HDF5 bookkeeping. The model is built
  from the checked configuration to know that size, before Keras reads the
  member (which it reads whole when memory allows).
- The whole configuration, the training configuration (`compile_config`)
  included even when it is not restored, is refused if it names a `Lambda`
  layer, a serialized Python function (`__lambda__`), a `TFSMLayer` (which
  runs a TensorFlow SavedModel from another path), or a class that is
  neither Keras' nor siamesekit's nor registered with
  `keras.saving.register_keras_serializable`.
- Keras then loads it with `safe_mode=True`. A tower is rebuilt with
  `weights=None` (`EmbeddingTower.from_config`): its weights come from the
  file, so loading never downloads anything.
"""

from __future__ import annotations

import json
import math
import os
import zipfile

import keras
import numpy as np

from siamesekit.errors import ModelFileError

MAX_CONFIG_BYTES = 16 * 2**20
MAX_METADATA_BYTES = 2**20
MAX_WEIGHTS_BYTES = 4 * 2**30
MAX_EXPANSION = 100
_EXPANSION_FLOOR_BYTES = 64 * 2**20
# Below this a weights member is read without building the model first.
_FITTED_WEIGHTS_FLOOR_BYTES = 16 * 2**20
_WEIGHTS_COPIES = 5
_BYTES_PER_VARIABLE = 16 * 2**10

_MEMBER_LIMITS = {
    "metadata.json": MAX_METADATA_BYTES,
    "config.json": MAX_CONFIG_BYTES,
    "model.weights.h5": MAX_WEIGHTS_BYTES,
}
# Layers and objects that run code, or read files, named by the configuration.
_CODE_CLASSES = {"Lambda", "__lambda__", "TFSMLayer"}
_TRUSTED_PACKAGES = ("keras", "siamesekit")
_SAVE_HINT = "It must be a `.keras` file saved by `siamesekit train` or `model.save`."


def _refuse(path, reason):
    raise ModelFileError(
        f"Refused to load the model file {path}: {reason}. {_SAVE_HINT}"
    )


def _mib(size):
    return f"{size / 2**20:,.1f} MiB"


def _check_members(path, archive):
    names = [info.filename for info in archive.infolist()]
    unexpected = sorted(set(names) - set(_MEMBER_LIMITS))
    if unexpected:
        _refuse(path, f"it holds unexpected members {unexpected}")
    if len(names) != len(set(names)):
        _refuse(path, "it holds a member name twice")
    missing = sorted({"config.json", "model.weights.h5"} - set(names))
    if missing:
        _refuse(path, f"it has no {' or '.join(missing)}")
    for info in archive.infolist():
        limit = _MEMBER_LIMITS[info.filename]
        if info.file_size > limit:
            _refuse(
                path,
                f"{info.filename} declares {_mib(info.file_size)}, more than the "
                f"{_mib(limit)} a model file may hold",
            )
        if (
            info.file_size > _EXPANSION_FLOOR_BYTES
            and info.file_size > MAX_EXPANSION * max(info.compress_size, 1)
        ):
            _refuse(
                path,
                f"{info.filename} declares {_mib(info.file_size)} stored in "
                f"{_mib(info.compress_size)}, a decompression bomb",
            )


def _trusted(module):
    return any(
        module == package or module.startswith(package + ".")
        for package in _TRUSTED_PACKAGES
    )


def check_model_config(path, config) -> None:
    """Refuses a model configuration that would run or load foreign code.

    Args:
        path: the file the configuration comes from, for the message.
        config: the parsed `config.json`.

    Raises:
        siamesekit.errors.ModelFileError: naming the first offending entry.
    """
    # A loop with a stack: a deeply nested hostile file cannot overflow it.
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        class_name = item.get("class_name")
        if isinstance(class_name, str):
            if class_name in _CODE_CLASSES:
                _refuse(path, f"it contains a {class_name} object, which runs code")
            module = item.get("module")
            if module is not None and not (
                isinstance(module, str) and _trusted(module)
            ):
                registered = item.get("registered_name") or class_name
                if not isinstance(registered, str) or (
                    keras.saving.get_registered_object(registered) is None
                ):
                    _refuse(
                        path,
                        f"it names {class_name!r} from module {module!r}, which "
                        "is neither Keras' nor siamesekit's nor registered with "
                        "keras.saving.register_keras_serializable",
                    )
        stack.extend(item.values())


def _read_config(path, archive):
    try:
        config = json.loads(archive.read("config.json"))
    except (ValueError, RecursionError, UnicodeDecodeError) as error:
        _refuse(path, f"config.json is not valid JSON ({type(error).__name__})")
    if not isinstance(config, dict):
        _refuse(path, "config.json holds no model configuration")
    return config


def _variable_bytes(variable):
    try:
        itemsize = np.dtype(variable.dtype).itemsize
    except TypeError:  # bfloat16 and other dtypes NumPy does not name
        itemsize = 8
    return math.prod(variable.shape) * itemsize


def _check_weights_fit(path, config, weights_size):
    """Refuses a weights member far larger than the model's variables."""
    if weights_size <= _FITTED_WEIGHTS_FLOOR_BYTES:
        return
    architecture = dict(config, compile_config=None)
    try:
        model = keras.saving.deserialize_keras_object(architecture, safe_mode=True)
    except Exception as error:  # Keras raises many types for bad configs.
        raise ModelFileError(
            f"Could not load the model file {path}: {error}. {_SAVE_HINT}"
        ) from error
    variables = model.variables
    limit = (
        _WEIGHTS_COPIES * sum(_variable_bytes(v) for v in variables)
        + _FITTED_WEIGHTS_FLOOR_BYTES
        + _WEIGHTS_COPIES * _BYTES_PER_VARIABLE * len(variables)
    )
    del model, variables
    if weights_size > limit:
        _refuse(
            path,
            f"model.weights.h5 declares {_mib(weights_size)}, more than the "
            f"{_mib(limit)} the weights of its model can take",
        )


def load_model_file(path, *, compile: bool = True) -> keras.Model:
    """Checks a `.keras` file, then loads it with `safe_mode=True`.

    The checks (allowed members, size limits, no code-running layers) are
    described in this module's docstring; they run before Keras reads any
    part of the file.

    Args:
        path: path of the `.keras` file.
        compile: bool, restore the saved training configuration too.
            Defaults to `True`.

    Raises:
        siamesekit.errors.ModelFileError: the file is missing, is not a
            `.keras` model that loads, or is refused by the checks.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"Model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive)
            config = _read_config(path, archive)
            check_model_config(path, config)
            weights_size = archive.getinfo("model.weights.h5").file_size
        _check_weights_fit(path, config, weights_size)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise ModelFileError(
            f"Could not read the model file {path} as a zip archive ({error}). "
            + _SAVE_HINT
        ) from error
    if not path.endswith(".keras"):
        _refuse(path, "its name does not end in `.keras`")
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for bad files.
        raise ModelFileError(
            f"Could not load the model file {path}: {error}. {_SAVE_HINT}"
        ) from error

"""`SiameseHyperModel`: tune a `SiameseModel` with keras-tuner."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

from siamesekit.errors import SearchSpaceError
from siamesekit.layers.backbones import get_backbone_spec
from siamesekit.models.factory import create_siamese_model


class _FatalSearchSpaceError(SearchSpaceError, keras_tuner.errors.FatalValueError):
    """A `SearchSpaceError` that stops the search.

    keras-tuner records any other error raised in a trial as an invalid trial
    and goes on with the next one; a broken search space would only show up
    as a row of invalid trials.
    """


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value):
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_boolean(value):
    # keras-tuner's `hp.Choice` turns True and False into 1 and 0.
    return isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1))


def _is_positive_int(value):
    return _is_int(value) and value >= 1


def _is_positive_number(value):
    return _is_number(value) and value > 0


# name: (kind, check, what a valid value is)
_HYPERPARAMETERS = {
    "embedding_dim": ("int", _is_positive_int, "a positive integer"),
    "dense_units": ("int", _is_positive_int, "a positive integer"),
    "margin": ("float", _is_positive_number, "a positive number"),
    "learning_rate": ("float", _is_positive_number, "a positive number"),
    "normalize": ("bool", _is_boolean, "True or False"),
    "trainable_backbone_layers": (
        "int",
        lambda value: _is_int(value) and value >= -1,
        "-1 (all), 0 (frozen) or a positive number of layers",
    ),
    "dropout": (
        "float",
        lambda value: _is_number(value) and 0 <= value < 1,
        "a number in [0, 1)",
    ),
    "pooling": (
        "str",
        lambda value: value in ("flatten", "avg", "max"),
        "'flatten', 'avg' or 'max'",
    ),
    "batch_size": ("int", _is_positive_int, "a positive integer"),
    "pairs_per_epoch": ("int", _is_positive_int, "a positive integer"),
}

# Used by `fit`, not by `build`.
_FIT_HYPERPARAMETERS = ("batch_size", "pairs_per_epoch")

_CHOICE_KEYS = {"values", "default", "ordered"}
_RANGE_KEYS = {"min_value", "max_value", "step", "sampling", "default"}

DEFAULT_SEARCH_SPACE = {
    "embedding_dim": {"values": [32, 64, 128], "default": 128},
    "dense_units": {"values": [64, 128, 256], "default": 128},
    "margin": {"min_value": 0.5, "max_value": 2.0, "default": 1.0},
    "learning_rate": {
        "min_value": 1e-4,
        "max_value": 1e-2,
        "sampling": "log",
        "default": 1e-3,
    },
    "normalize": [True, False],
}
"""The search space of `SiameseHyperModel`, in the form `search_space` takes.

With pretrained weights, `"trainable_backbone_layers": [0, 2, 4]` is added.
"""

PRETRAINED_SEARCH_SPACE = {"trainable_backbone_layers": [0, 2, 4]}
"""Added to `DEFAULT_SEARCH_SPACE` when the backbone starts from pretrained weights."""


def _space_error(message, fatal=False):
    return (_FatalSearchSpaceError if fatal else SearchSpaceError)(message)


def _check_value(name, value, where, fatal=False):
    kind, check, requirement = _HYPERPARAMETERS[name]
    if not check(value):
        raise _space_error(
            f"Hyperparameter '{name}' must be {requirement}. "
            f"Received: {where}={value!r}",
            fatal,
        )
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


def _check_name(name, where):
    if name not in _HYPERPARAMETERS:
        raise SearchSpaceError(
            f"Unknown hyperparameter {name!r} in {where}. SiameseHyperModel "
            f"tunes {sorted(_HYPERPARAMETERS)}; for anything else, subclass it "
            f"and override `build`. Received: {where}[{name!r}]"
        )


def _normalize_spec(name, spec):
    """Checks one entry of `search_space` and returns it in canonical form."""
    _check_name(name, "search_space")
    where = f"search_space[{name!r}]"
    kind = _HYPERPARAMETERS[name][0]
    if spec is None:
        return None
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise SearchSpaceError(
                f"A list of choices must not be empty. Received: {where}={spec!r}"
            )
        return {"values": [_check_value(name, value, where) for value in spec]}
    if isinstance(spec, Mapping):
        keys = set(spec)
        if "values" in keys:
            if not keys <= _CHOICE_KEYS:
                raise SearchSpaceError(
                    f"A choice takes the keys {sorted(_CHOICE_KEYS)}. "
                    f"Received: {where}={dict(spec)!r}"
                )
            choice = dict(spec)
            choice["values"] = _normalize_spec(name, list(spec["values"]))["values"]
            if "default" in choice:
                choice["default"] = _check_value(name, choice["default"], where)
            return choice
        if (
            kind not in ("int", "float")
            or not keys <= _RANGE_KEYS
            or not ({"min_value", "max_value"} <= keys)
        ):
            allowed = (
                "a range {'min_value': ..., 'max_value': ...} (optional keys "
                "'step', 'sampling', 'default') or "
                if kind in ("int", "float")
                else ""
            )
            raise SearchSpaceError(
                f"Hyperparameter '{name}' takes {allowed}a value, a list of "
                f"values or {{'values': [...]}}. Received: {where}={dict(spec)!r}"
            )
        bounds = dict(spec)
        for key in ("min_value", "max_value", "default"):
            if key in bounds:
                bounds[key] = _check_value(name, bounds[key], f"{where}[{key!r}]")
        if bounds["min_value"] > bounds["max_value"]:
            raise SearchSpaceError(
                f"'min_value' must not exceed 'max_value'. Received: {where}={spec!r}"
            )
        if "default" in bounds and not (
            bounds["min_value"] <= bounds["default"] <= bounds["max_value"]
        ):
            raise SearchSpaceError(
                f"'default' must lie between 'min_value' and 'max_value'. "
                f"Received: {where}={spec!r}"
            )
        if bounds.get("step") is not None and not _is_positive_number(bounds["step"]):
            raise SearchSpaceError(
                f"'step' must be a positive number. Received: {where}={spec!r}"
            )
        sampling = bounds.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            raise SearchSpaceError(
                "'sampling' must be 'linear', 'log' or 'reverse_log'. "
                f"Received: {where}={spec!r}"
            )
        if sampling != "linear" and not bounds["min_value"] > 0:
            raise SearchSpaceError(
                f"'{sampling}' sampling needs a positive 'min_value'. "
                f"Received: {where}={spec!r}"
            )
        return bounds
    return _check_value(name, spec, where)


def _register(hp, name, spec):
    """Declares one hyperparameter in `hp` and returns this trial's value."""
    kind = _HYPERPARAMETERS[name][0]
    if not isinstance(spec, dict):
        return hp.Fixed(name, spec)
    if kind == "bool" and set(spec["values"]) == {False, True}:
        return hp.Boolean(name, default=spec.get("default", spec["values"][0]))
    if "values" in spec:
        return hp.Choice(name, **spec)
    if kind == "int":
        return hp.Int(name, **spec)
    return hp.Float(name, **spec)


def _is_tf_dataset(data):
    # Without TensorFlow imported, `data` cannot be a tf.data.Dataset.
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def _is_endless(dataset):
    import tensorflow as tf  # already imported: `dataset` is a tf.data.Dataset

    return dataset.cardinality() == tf.data.INFINITE_CARDINALITY


def _is_dataset_like(data):
    return (
        _is_tf_dataset(data)
        or isinstance(data, keras.utils.PyDataset)
        or hasattr(data, "__next__")
    )


class SiameseHyperModel(keras_tuner.HyperModel):
    """A keras-tuner `HyperModel` whose models are compiled `SiameseModel`s.

    `build(hp)` returns `siamesekit.create_siamese_model(...)` with this
    trial's hyperparameters; `fit(hp, model, ...)` trains it with
    `model.fit`, forwarding everything the tuner passes (its callbacks
    included). It works with `keras_tuner.RandomSearch`,
    `BayesianOptimization` and `Hyperband`.

    The search space (`DEFAULT_SEARCH_SPACE`):

    | name | values | default |
    |---|---|---|
    | `embedding_dim` | 32, 64, 128 | 128 |
    | `dense_units` | 64, 128, 256 | 128 |
    | `margin` | 0.5 to 2.0, uniform | 1.0 |
    | `learning_rate` | 1e-4 to 1e-2, log scale | 1e-3 |
    | `normalize` | True, False | True |
    | `trainable_backbone_layers` | 0, 2, 4 (pretrained weights only) | 0 |

    More names can be tuned through `search_space`: `dropout`, `pooling`,
    and for `fit`, `batch_size` and `pairs_per_epoch`. The backbone, input
    shape and weights are fixed by the caller.

    `search_space` entries replace the defaults of the same name. Each value
    is one of:

    - a single value: fixed (`"normalize": True`),
    - a list: a choice, the first value is the default
      (`"embedding_dim": [8, 16]`),
    - `{"values": [...], "default": ...}`: a choice with a default,
    - `{"min_value": ..., "max_value": ..., "step": ..., "sampling": ...,
      "default": ...}`: an integer or float range (`sampling` `"linear"` or
      `"log"`),
    - `None`: not tuned; the default of `siamesekit.create_siamese_model`
      applies.

    For a space that depends on itself (conditional hyperparameters, ranges
    computed from others), pass `search_space_fn(hp)`: it declares what it
    tunes with `hp.Choice`, `hp.Float`, ... and returns a dict of values
    (any of the names above); names it does not return come from the space.
    Subclasses can override `search_space(hp)` instead.

    Tuning `batch_size` or `pairs_per_epoch` needs data the hypermodel can
    batch: NumPy pairs `((images_1, images_2), labels)`, or a function
    `make_dataset(batch_size)` returning a `tf.data.Dataset` of batched pairs.
    With `pairs_per_epoch`, each epoch runs `ceil(pairs_per_epoch /
    batch_size)` steps over a shuffled, repeated stream of the pairs.

    keras-tuner infers the direction of `"val_loss"` and `"val_auc"` from the
    string, but not of `"val_pair_accuracy"`: pass
    `siamesekit.tuning.objective("val_pair_accuracy")` (direction `"max"`).

    Args:
        input_shape: tuple `(height, width, channels)` of the images, 1 or 3
            channels. Defaults to `(224, 224, 3)`.
        backbone: string, the backbone of `siamesekit.EmbeddingTower`.
            Defaults to `"vgg16"`.
        weights: `"imagenet"`, `None` or a path to a weights file, as for
            `siamesekit.EmbeddingTower`. Defaults to `"imagenet"`.
        search_space: dict of overrides of `DEFAULT_SEARCH_SPACE`, in the
            forms above. Defaults to `None`.
        search_space_fn: function `hp -> dict` declaring and returning
            hyperparameter values. Defaults to `None`.
        name: optional name of the hypermodel.
        tunable: bool, whether the tuner may tune this hypermodel's
            hyperparameters. Defaults to `True`.

    Raises:
        siamesekit.errors.SearchSpaceError: if an override names an unknown
            hyperparameter or holds a value the model cannot use. The same
            error raised during a search stops it (it is a
            `keras_tuner.errors.FatalError` there).

    Example:

    ```python
    hypermodel = siamesekit.SiameseHyperModel(
        (32, 32, 1),
        backbone="small_cnn",
        weights=None,
        search_space={"embedding_dim": [16, 32], "batch_size": [32, 64]},
    )
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=siamesekit.tuning.objective("val_auc"),
        max_trials=8,
        directory="tuning",
    )
    tuner.search(
        (images_1, images_2), labels, validation_data=val_pairs, epochs=5
    )
    best_model = tuner.get_best_models()[0]  # a siamesekit.SiameseModel
    ```
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (224, 224, 3),
        backbone: str = "vgg16",
        weights: str | None = "imagenet",
        search_space: Mapping[str, Any] | None = None,
        search_space_fn: Callable[[keras_tuner.HyperParameters], Mapping[str, Any]]
        | None = None,
        name: str | None = None,
        tunable: bool = True,
    ):
        super().__init__(name=name, tunable=tunable)
        get_backbone_spec(backbone)  # an unknown backbone fails here, not in a trial
        if search_space is not None and not isinstance(search_space, Mapping):
            raise SearchSpaceError(
                "`search_space` must be a dict of hyperparameter names to "
                f"values. Received: search_space={search_space!r}"
            )
        if search_space_fn is not None and not callable(search_space_fn):
            raise SearchSpaceError(
                "`search_space_fn` must be a function `hp -> dict`. "
                f"Received: search_space_fn={search_space_fn!r}"
            )
        self.input_shape = tuple(input_shape)
        self.backbone = backbone
        self.weights = weights
        self.search_space_fn = search_space_fn
        space = dict(DEFAULT_SEARCH_SPACE)
        if weights is not None:
            space.update(PRETRAINED_SEARCH_SPACE)
        space.update(search_space or {})
        self.space = {}
        for space_name, spec in space.items():
            spec = _normalize_spec(space_name, spec)
            if spec is not None:
                self.space[space_name] = spec
        # Declaring the space once with its defaults surfaces keras-tuner's
        # own complaints (a log range from 0, a default outside the range)
        # now rather than as invalid trials.
        try:
            self.search_space(keras_tuner.HyperParameters())
        except SearchSpaceError as error:
            raise SearchSpaceError(str(error)) from error
        except (ValueError, TypeError) as error:
            raise SearchSpaceError(
                f"keras-tuner rejected the search space: {error}"
            ) from error

    def search_space(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """Declares the search space in `hp` and returns this trial's values.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.

        Returns:
            Dict of hyperparameter name to value, for example
            `{"embedding_dim": 128, "margin": 1.0, ...}`.
        """
        values = {}
        if self.search_space_fn is not None:
            returned = self.search_space_fn(hp)
            if not isinstance(returned, Mapping):
                raise _FatalSearchSpaceError(
                    "`search_space_fn` must return a dict of hyperparameter "
                    f"names to values. Received: {returned!r}"
                )
            for returned_name in returned:
                _check_name(returned_name, "the dict returned by search_space_fn")
            values.update(returned)
        for space_name, spec in self.space.items():
            if space_name not in values:
                values[space_name] = _register(hp, space_name, spec)
        return {
            value_name: _check_value(value_name, value, f"{value_name}", fatal=True)
            for value_name, value in values.items()
        }

    def declare_hyperparameters(self, hp):
        self.search_space(hp)

    def build(self, hp):
        """Returns a built `SiameseModel` compiled with Adam and `ContrastiveLoss`."""
        values = self.search_space(hp)
        model_options = {
            option: value
            for option, value in values.items()
            if option not in _FIT_HYPERPARAMETERS
        }
        model = create_siamese_model(
            self.input_shape,
            backbone=self.backbone,
            weights=self.weights,
            **model_options,
        )
        # The tuner reloads checkpoints, optimizer state included, into
        # models from `build`: with its variables built, the state is
        # restored instead of skipped with a warning.
        model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with `model.fit(*args, **kwargs)`.

        The tuner's `callbacks` and every other argument of `Tuner.search`
        are forwarded. When `batch_size` or `pairs_per_epoch` are in the
        search space, they set `model.fit`'s `batch_size` and
        `steps_per_epoch` (see the class docstring).

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model returned by `build(hp)`.
            *args: positional arguments of `model.fit`: `x`, then `y`. `x`
                may also be a function `make_dataset(batch_size)`.
            **kwargs: keyword arguments of `model.fit`.

        Returns:
            The `keras.callbacks.History` of `model.fit`.
        """
        values = self.search_space(hp)
        args = list(args)
        x = args.pop(0) if args else kwargs.pop("x", None)
        original_x = x
        tuned = [name for name in _FIT_HYPERPARAMETERS if name in values]
        for name, fit_argument in (
            ("batch_size", "batch_size"),
            ("pairs_per_epoch", "steps_per_epoch"),
        ):
            if name in values and kwargs.get(fit_argument) is not None:
                raise _FatalSearchSpaceError(
                    f"'{name}' is tuned, so `{fit_argument}` cannot also be "
                    f"passed to search(). Received: {fit_argument}="
                    f"{kwargs[fit_argument]!r}"
                )
        batch_size = values.get("batch_size", kwargs.pop("batch_size", None))
        pairs_per_epoch = values.get("pairs_per_epoch")

        if callable(x) and not _is_dataset_like(x):
            batch_size = batch_size or 32
            x = x(batch_size)
            if not (_is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset)):
                raise _FatalSearchSpaceError(
                    "A data function passed to search() must return a "
                    "tf.data.Dataset of batched pairs. "
                    f"Received: a {type(x).__name__}"
                )
        elif _is_dataset_like(x):
            if tuned:
                raise _FatalSearchSpaceError(
                    f"{tuned} cannot be tuned on a ready-made dataset: it is "
                    "already batched. Pass NumPy pairs `((images_1, images_2), "
                    "labels)` or a function `make_dataset(batch_size)` to "
                    "search() instead."
                )
        elif pairs_per_epoch is not None:
            batch_size = batch_size or 32
            y = args.pop(0) if args else kwargs.pop("y", None)
            sample_weight = kwargs.pop("sample_weight", None)
            x = _repeated_pairs(x, y, sample_weight, batch_size)
        elif batch_size is not None:
            kwargs["batch_size"] = batch_size

        if _is_tf_dataset(x) and not _is_tf_dataset(original_x):
            # Made here, and already shuffled where it needs to be.
            kwargs.setdefault("shuffle", False)
        if pairs_per_epoch is not None:
            if _is_tf_dataset(x) and not _is_endless(x):
                x = x.repeat()
            kwargs["steps_per_epoch"] = math.ceil(pairs_per_epoch / batch_size)
        return model.fit(x, *args, **kwargs)


def _repeated_pairs(x, y, sample_weight, batch_size):
    """A shuffled, endlessly repeated, batched `tf.data.Dataset` of the pairs."""
    import tensorflow as tf  # only where a pipeline is built

    if isinstance(x, list):
        x = tuple(x)  # a list would be stacked into one tensor
    elements = (x, y) if sample_weight is None else (x, y, sample_weight)
    if y is None:
        elements = x
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    count = int(dataset.cardinality())
    return (
        dataset.shuffle(count, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )

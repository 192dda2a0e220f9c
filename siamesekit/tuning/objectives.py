"""keras-tuner objectives for the metrics a `SiameseModel` reports."""

from __future__ import annotations

import keras_tuner

from siamesekit.errors import InvalidArgumentError

# Whether a larger value of each metric `SiameseModel` logs is better.
METRIC_DIRECTIONS = {
    "loss": "min",
    "positive_distance": "min",
    "negative_distance": "max",
    "pair_accuracy": "max",
    "auc": "max",
}


def objective(name: str = "val_auc") -> keras_tuner.Objective:
    """Returns the `keras_tuner.Objective` for a metric of `SiameseModel`.

    keras-tuner infers the direction of `"val_loss"` (min) and `"val_auc"`
    (max) from a plain string, but not of `"val_pair_accuracy"` or the
    distance metrics: a tuner given such a string raises `ValueError`. This
    function knows the direction of every metric the model logs.

    Args:
        name: string, a metric logged by `siamesekit.SiameseModel`, with or
            without the `"val_"` prefix: `"loss"`, `"positive_distance"`,
            `"negative_distance"`, `"pair_accuracy"` or `"auc"`. Defaults to
            `"val_auc"`.

    Returns:
        A `keras_tuner.Objective` with direction `"min"` or `"max"`.

    Example:

    ```python
    tuner = keras_tuner.RandomSearch(
        siamesekit.SiameseHyperModel((32, 32, 1), backbone="small_cnn", weights=None),
        objective=siamesekit.tuning.objective("val_pair_accuracy"),
        max_trials=4,
    )
    ```
    """
    metric = (
        name[len("val_") :]
        if isinstance(name, str) and name.startswith("val_")
        else name
    )
    if metric not in METRIC_DIRECTIONS:
        known = sorted(METRIC_DIRECTIONS) + sorted(
            f"val_{key}" for key in METRIC_DIRECTIONS
        )
        raise InvalidArgumentError(
            f"Unknown SiameseModel metric. Choose one of {known}, or pass "
            "keras_tuner.Objective(name, direction) to the tuner for a metric "
            f"of your own. Received: name={name!r}"
        )
    return keras_tuner.Objective(name, direction=METRIC_DIRECTIONS[metric])

"""Splitting a dataset by identity, so that test identities are never seen."""

from __future__ import annotations

import dataclasses

import numpy as np

from siamesekit.arguments import check_integer
from siamesekit.data.identities import group_identities
from siamesekit.errors import DatasetError


@dataclasses.dataclass(frozen=True)
class IdentitySplit:
    """Image indices of the train, validation and test identities.

    No identity has images in two of the parts.

    Attributes:
        train: int array of the indices of the training images.
        validation: int array of the indices of the validation images.
        test: int array of the indices of the test images.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def _count(name, value, num_identities):
    """Number of identities for a fraction (float) or a count (int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise DatasetError(
            f"`{name}` must be a fraction in [0, 1) or a number of identities. "
            f"Received: {name}={value!r}"
        )
    if isinstance(value, (float, np.floating)):
        if not 0 <= value < 1:
            raise DatasetError(
                f"`{name}` as a fraction must be in [0, 1). Received: {name}={value!r}"
            )
        return int(round(value * num_identities))
    if value < 0:
        raise DatasetError(f"`{name}` must not be negative. Received: {name}={value!r}")
    return int(value)


def split_by_identity(
    labels,
    *,
    test: float | int = 0.2,
    validation: float | int = 0.0,
    seed: int | None = 0,
) -> IdentitySplit:
    """Splits images into train, validation and test parts by identity.

    All images of one identity land in the same part, so a model is measured
    on identities it never saw.

    Args:
        labels: one identity label per image.
        test: fraction of the identities (float in [0, 1)) or number of
            identities (int) held out for testing. Defaults to `0.2`.
        validation: the same for validation. Defaults to `0.0`.
        seed: non-negative int, which identities are drawn; `None` for a
            random draw. Defaults to `0`.

    Returns:
        An `IdentitySplit` of image indices.

    Raises:
        DatasetError: if fewer than two identities would be left for
            training, or a non-empty part would get fewer than two.
        InvalidArgumentError: if `seed` is not a non-negative integer.

    Example:

    ```python
    split = siamesekit.data.split_by_identity(labels, test=0.25, seed=0)
    train_images, test_images = images[split.train], images[split.test]
    ```
    """
    seed = check_integer("seed", seed, minimum=0, allow_none=True)
    identities = group_identities(labels)
    total = identities.num_identities
    num_test = _count("test", test, total)
    num_validation = _count("validation", validation, total)
    num_train = total - num_test - num_validation
    if num_train < 2:
        raise DatasetError(
            f"Splitting {total} identities into {num_test} test and "
            f"{num_validation} validation identities leaves {num_train} for "
            "training; at least 2 are needed. Lower `test` or `validation`."
        )
    for name, count, value in (
        ("test", num_test, test),
        ("validation", num_validation, validation),
    ):
        if count == 1:
            raise DatasetError(
                f"The {name} part would have a single identity, which gives no "
                f"dissimilar pair to measure. Give it 0 or at least 2 of the "
                f"{total} identities. Received: {name}={value!r}"
            )
    order = np.random.default_rng(seed).permutation(total)
    parts = np.split(order, [num_train, num_train + num_validation])

    def indices(part):
        if len(part) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate([identities.members[k] for k in part]))

    train, valid, held_out = (indices(part) for part in parts)
    return IdentitySplit(train=train, validation=valid, test=held_out)

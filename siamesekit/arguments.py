"""Checks of numeric arguments, shared by the public functions."""

from __future__ import annotations

import numpy as np

from siamesekit.errors import InvalidArgumentError


def check_integer(name: str, value, *, minimum: int | None = None, allow_none=False):
    """Returns `value` as a Python `int`, or raises `InvalidArgumentError`.

    Python and NumPy integers are accepted (`np.int64(16)` from an array is
    as good as `16`); `bool`, floats (even `16.0`), strings and anything else
    are refused, since they are mistakes more often than not.

    Args:
        name: the argument's name, for the message.
        value: the value given.
        minimum: int, the smallest allowed value; `None` for no bound.
            Defaults to `None`.
        allow_none: bool, whether `None` is allowed (and returned as is).
            Defaults to `False`.

    Raises:
        siamesekit.errors.InvalidArgumentError: ending with
            `Received: name=value`.
    """
    if value is None and allow_none:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or (minimum is not None and value < minimum)
    ):
        wanted = "an integer" if minimum is None else f"an integer >= {minimum}"
        if allow_none:
            wanted += " or None"
        raise InvalidArgumentError(
            f"`{name}` must be {wanted}. Received: {name}={value!r}"
        )
    return int(value)


def check_similarity(name: str, value) -> float:
    """Returns a cosine similarity threshold as a float in [-1, 1], or raises.

    Raises:
        siamesekit.errors.InvalidArgumentError: ending with
            `Received: name=value`.
    """
    number = _as_float(value)
    if not -1.0 <= number <= 1.0:
        raise InvalidArgumentError(
            f"`{name}` is a cosine similarity and must be in [-1, 1]. "
            f"Received: {name}={value!r}"
        )
    return number


def check_positive(name: str, value, *, allow_none=False) -> float | None:
    """Returns `value` as a positive finite float, or raises.

    Args:
        name: the argument's name, for the message.
        value: the value given: a Python or NumPy number, not a `bool`.
        allow_none: bool, whether `None` is allowed (and returned as is).
            Defaults to `False`.

    Raises:
        siamesekit.errors.InvalidArgumentError: ending with
            `Received: name=value`.
    """
    if value is None and allow_none:
        return None
    number = _as_float(value)
    if not 0.0 < number < float("inf"):
        wanted = "a positive number" + (" or None" if allow_none else "")
        raise InvalidArgumentError(
            f"`{name}` must be {wanted}. Received: {name}={value!r}"
        )
    return number


def _as_float(value) -> float:
    """A Python or NumPy number as a float; NaN for anything else (`bool`,
    strings, `None`), so that the range check refuses it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        return float("nan")
    return float(value)

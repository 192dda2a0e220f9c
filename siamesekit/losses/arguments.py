"""Argument checks shared by the losses."""

from siamesekit.errors import InvalidArgumentError


def check_margin(margin):
    """Raises `InvalidArgumentError` unless `margin` is a positive number."""
    if not isinstance(margin, (int, float)) or not margin > 0:
        raise InvalidArgumentError(
            f"`margin` must be a positive number. Received: margin={margin!r}"
        )


def check_temperature(temperature):
    """Raises `InvalidArgumentError` unless `temperature` is a positive number."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not temperature > 0
    ):
        raise InvalidArgumentError(
            "`temperature` must be a positive number, such as 0.1. "
            f"Received: temperature={temperature!r}"
        )

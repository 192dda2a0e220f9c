"""Argument checks shared by the losses."""

from siamesekit.errors import InvalidArgumentError


def check_margin(margin):
    """Raises `InvalidArgumentError` unless `margin` is a positive number."""
    if not isinstance(margin, (int, float)) or not margin > 0:
        raise InvalidArgumentError(
            f"`margin` must be a positive number. Received: margin={margin!r}"
        )

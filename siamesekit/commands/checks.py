"""Checks the commands make on their inputs and outputs before any work.

Building a model takes seconds (and without --model, a VGG16 download);
a missing image or an unwritable figure path is reported before that.
"""

from __future__ import annotations

import json
import math
import os

from siamesekit.errors import (
    ImageError,
    ImageNotFoundError,
    InvalidArgumentError,
    OutputExistsError,
)


def check_image_file(path: str, argument: str) -> str:
    """Fails unless `path` is an existing regular file.

    Raises:
        ImageNotFoundError: if nothing exists at `path`.
        ImageError: if `path` is a folder, a device or a pipe.
    """
    if not os.path.exists(path):
        raise ImageNotFoundError(
            f"{argument}: image file not found: {path!r}; check the path."
        )
    if os.path.isdir(path):
        raise ImageError(
            f"{argument}: {path!r} is a folder; pass the path of an image file."
        )
    if not os.path.isfile(path):
        raise ImageError(
            f"{argument}: {path!r} is not a regular file (a device or a pipe); "
            "pass the path of an image file."
        )
    return path


def figure_formats() -> tuple[str, ...]:
    """The file extensions matplotlib can write, without the dot."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))


def check_figure_path(path: str, option: str = "--out") -> str:
    """Fails unless a figure can be written at `path`: not a folder, an
    extension matplotlib writes, and an existing parent folder.

    Raises:
        InvalidArgumentError: if any of these does not hold.
    """
    if os.path.isdir(path):
        raise InvalidArgumentError(
            f"{option} {path!r} is a folder; give a file name such as "
            f"{os.path.join(path, 'comparison.png')!r}."
        )
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    formats = figure_formats()
    if extension not in formats:
        raise InvalidArgumentError(
            f"{option} {path!r}: the file name must end in a figure format, one "
            f"of {', '.join('.' + name for name in formats)}."
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidArgumentError(
            f"{option} {path!r}: the folder {folder!r} does not exist; create it first."
        )
    return path


def check_output_file(
    path: str, option: str, example: str, *, may_exist: bool, how_to_replace: str
) -> str:
    """Fails unless a file can be written at `path`: not a folder, an
    existing parent folder, and not an existing file unless `may_exist`.

    Raises:
        InvalidArgumentError: if `path` is a folder or its folder is missing.
        OutputExistsError: if `path` exists and may not be replaced.
    """
    if os.path.isdir(path):
        raise InvalidArgumentError(
            f"{option} {path!r} is a folder; give a file name such as "
            f"{os.path.join(path, example)!r}."
        )
    if os.path.exists(path) and not may_exist:
        raise OutputExistsError(f"{option} {path!r} already exists; {how_to_replace}.")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise InvalidArgumentError(
            f"{option} {path!r}: its folder does not exist; create it first."
        )
    return path


def _finite_or_none(value):
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        # numpy scalars and arrays
        return _finite_or_none(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def strict_json(value) -> str:
    """`value` as strict JSON: NaN and infinities (which `json.dumps` writes
    as the invalid `NaN` and `Infinity`) become `null`."""
    return json.dumps(_finite_or_none(value), allow_nan=False)

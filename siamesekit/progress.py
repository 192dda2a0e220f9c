"""When a run shows a Keras progress bar: the one rule for images and pairs.

`progress` is `True`, `False` or `"auto"`; `"auto"` shows a bar for runs of
more than 256 items, long enough for one to help.
"""

from __future__ import annotations

import keras

AUTO_PROGRESS_ITEMS = 256


def progress_bar(total: int, progress, unit_name: str):
    """A `keras.utils.Progbar` of `total` items, or `None` for no bar."""
    if progress == "auto":
        progress = total > AUTO_PROGRESS_ITEMS
    if not progress:
        return None
    return keras.utils.Progbar(total, unit_name=unit_name)

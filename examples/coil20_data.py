"""COIL-20 images for the examples: flat files `objK__P.png` (object K, pose P)."""

from __future__ import annotations

import pathlib
import re

import numpy as np

from siamesekit.data import load_image

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared/data/coil20_32px"
NAME = re.compile(r"obj(\d+)__(\d+)\.png$")


def load_coil20(folder=DEFAULT_DATA):
    """Returns grey 32x32x1 images (0-255 float32) and their object numbers.

    The files are decoded with `siamesekit.data.load_image` and labelled from
    their names.
    """
    paths = sorted(
        path
        for path in pathlib.Path(folder).glob("obj*__*.png")
        if NAME.search(path.name)
    )
    if not paths:
        raise SystemExit(f"No COIL-20 images (objK__P.png) in {folder}")
    images = np.stack([load_image(path, size=(32, 32), channels=1) for path in paths])
    objects = np.array([int(NAME.search(path.name).group(1)) for path in paths])
    return images, objects

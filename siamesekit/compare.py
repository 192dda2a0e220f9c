"""`compare_images`: the one-line comparison of the original README."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future

import numpy as np

from siamesekit.comparator import Comparator
from siamesekit.errors import InvalidArgumentError
from siamesekit.layers.embedding_tower import EmbeddingTower

# Building a VGG16 comparator takes seconds; repeated calls with the same
# options reuse it. Each entry is a Future, so that calls from several threads
# at once build it once and wait for that one.
_CACHE: dict[tuple, Future] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def build_comparator(
    model=None,
    *,
    backbone: str = "vgg16",
    weights="imagenet",
    input_shape: tuple[int, int, int] = (224, 224, 3),
    precision: str = "auto",
    batch_size: int = 32,
) -> Comparator:
    """Returns a Comparator for a saved model, a model object, or a backbone.

    Args:
        model: path of a `.keras` file, a `siamesekit.SiameseModel` or tower,
            or `None` to build an `EmbeddingTower` from `backbone`, `weights`
            and `input_shape`. Defaults to `None`.
        backbone: backbone name when `model` is `None`. Defaults to `"vgg16"`.
        weights: `"imagenet"`, `None` or a weights file path, when `model` is
            `None`. Defaults to `"imagenet"`.
        input_shape: image shape when `model` is `None`. Defaults to
            `(224, 224, 3)`.
        precision: as in `siamesekit.Comparator`. Defaults to `"auto"`.
        batch_size: as in `siamesekit.Comparator`. Defaults to `32`.
    """
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return Comparator(model, precision=precision, batch_size=batch_size)
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if model is not None:
        model = os.path.abspath(model)
        # A file rewritten since it was loaded must be loaded again.
        stamp = os.stat(model).st_mtime_ns if os.path.isfile(model) else None
        key = ("file", model, stamp, precision, batch_size)
    else:
        key = ("tower", backbone, weights, tuple(input_shape), precision, batch_size)
    with _CACHE_LOCK:
        entry = _CACHE.get(key)
        builds = entry is None
        if builds:
            while len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            entry = _CACHE[key] = Future()
    if not builds:
        return entry.result()
    try:
        if model is not None:
            comparator = Comparator.from_saved(
                model, precision=precision, batch_size=batch_size
            )
        else:
            tower = EmbeddingTower(
                backbone=backbone, input_shape=input_shape, weights=weights
            )
            comparator = Comparator(tower, precision=precision, batch_size=batch_size)
    except BaseException as error:
        # The threads waiting for this build get the error too; a later call
        # tries again.
        with _CACHE_LOCK:
            if _CACHE.get(key) is entry:
                del _CACHE[key]
        entry.set_exception(error)
        raise
    entry.set_result(comparator)
    return comparator


def compare_images(
    path1, path2, *, method: str = "features", **options
) -> tuple[float, float, np.ndarray]:
    """Compares two images: `(similarity, difference, visualization)`.

    The call of the original README, built on `siamesekit.Comparator`.

    Args:
        path1: image 1: a path, encoded bytes or an array.
        path2: image 2.
        method: heatmap method, `"features"`, `"attribution"` or `"pixels"`.
            Defaults to `"features"`.
        **options: how to get the network, passed to `build_comparator`:
            `model` (a `.keras` path or a model object), or `backbone`,
            `weights` and `input_shape` (default: VGG16 with ImageNet weights
            at 224x224); and `precision`, `batch_size`.

    Returns:
        `similarity` (cosine, float in [-1, 1]), `difference` (Euclidean
        distance of the embeddings, float) and `visualization` (the heatmap
        over image 2, RGB uint8 array).

    Example:

    ```python
    similarity, difference, visualization = siamesekit.compare_images(
        "image1.jpg", "image2.jpg"
    )
    ```
    """
    if method is None:
        raise InvalidArgumentError(
            "compare_images returns a visualization, so it needs a heatmap "
            "method. Received: method=None"
        )
    result = build_comparator(**options).compare(path1, path2, method=method)
    return result.similarity, result.distance, result.visualization

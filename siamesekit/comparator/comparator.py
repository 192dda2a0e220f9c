"""`Comparator`: fast inference with a trained Siamese model or tower."""

from __future__ import annotations

import os
from typing import Iterable, NamedTuple, Sequence

import keras
import numpy as np
from keras import ops

from siamesekit.comparator import attribution, heatmaps
from siamesekit.comparator.decoding import decode_ahead
from siamesekit.comparator.display_scale import display_scale
from siamesekit.comparator.map_functions import build_map_functions
from siamesekit.comparator.precision import resolve_precision, tower_in_precision
from siamesekit.comparator.result import ComparisonResult
from siamesekit.compiled import compile_inference
from siamesekit.data.images import load_image
from siamesekit.errors import ImageError, InvalidArgumentError
from siamesekit.layers.embedding_tower import EmbeddingTower
from siamesekit.models.model_file import load_model_file
from siamesekit.models.siamese_model import SiameseModel
from siamesekit.progress import progress_bar


def _as_image_list(images, argument: str) -> list:
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise InvalidArgumentError(
                f"`{argument}` must be a list of images or an array batch of shape "
                "(n, height, width, channels); for one image pass [image]. "
                f"Received: array of shape {images.shape}"
            )
        return list(images)
    if isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview)):
        raise InvalidArgumentError(
            f"`{argument}` must be a list of images; for one image pass [image]. "
            f"Received: {type(images).__name__}"
        )
    try:
        return list(images)
    except TypeError:
        raise InvalidArgumentError(
            f"`{argument}` must be a list of images or an array batch. "
            f"Received: {type(images).__name__}"
        ) from None


class ReadableEmbeddings(NamedTuple):
    """What `Comparator.embed_readable` returns.

    Attributes:
        embeddings: float32 array `(m, dim)`, one row per readable image.
        positions: int64 array `(m,)`, the index in the input of each row.
        skipped: list of `(index, source, reason)` for the images that could
            not be read.
    """

    embeddings: np.ndarray
    positions: np.ndarray
    skipped: list


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


class Comparator:
    """Compares images with a trained Siamese model: scores and where they differ.

    The comparator decodes images (`siamesekit.load_image`, in a few worker
    threads that work ahead of the network), resizes them to the tower's
    input size, runs each distinct image through the network once
    per call (batched, in a traced function rather than per-call
    `model.predict`), and returns cosine similarity, Euclidean distance and a
    difference heatmap. With `precision="auto"` the network runs in
    mixed_bfloat16 on CPUs with AVX512_BF16/AMX and mixed_float16 on NVIDIA
    GPUs, on a private copy of the tower: the model passed in and the global
    Keras dtype policy are left as they are. Embeddings and scores are float32.

    Args:
        model_or_tower: a `siamesekit.SiameseModel` (its tower and `threshold`
            are used), a `siamesekit.EmbeddingTower`, or any Keras layer or
            model mapping a batch of images to embeddings (only the "pixels"
            heatmap is available for those).
        precision: `"auto"`, `"float32"`, `"mixed_float16"` or
            `"mixed_bfloat16"`. Defaults to `"auto"`.
        batch_size: int, images per forward pass. Defaults to `32`.
        progress: `True`, `False`, or `"auto"` (a progress bar for runs of more
            than 256 images). Defaults to `"auto"`.
        image_shape: `(height, width, channels)` for towers that do not know
            their input shape. Defaults to `None`.

    Example:

    ```python
    comparator = siamesekit.Comparator(model)
    result = comparator.compare("a.png", "b.png")
    result.similarity, result.distance, result.same
    result.save_figure("difference.png")
    ```
    """

    def __init__(
        self,
        model_or_tower,
        precision: str = "auto",
        batch_size: int = 32,
        progress: bool | str = "auto",
        image_shape: tuple[int, int, int] | None = None,
    ):
        if isinstance(model_or_tower, SiameseModel):
            tower = model_or_tower.tower
            self.threshold = model_or_tower.threshold
        elif isinstance(model_or_tower, keras.layers.Layer):
            tower = model_or_tower
            self.threshold = None
        else:
            raise InvalidArgumentError(
                "`model_or_tower` must be a siamesekit.SiameseModel, a "
                "siamesekit.EmbeddingTower or a Keras layer mapping images to "
                f"embeddings. Received: {type(model_or_tower).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            batch_size = -1
        if batch_size < 1:
            raise InvalidArgumentError(
                f"`batch_size` must be a positive integer. Received: {batch_size!r}"
            )
        if progress not in (True, False, "auto"):
            raise InvalidArgumentError(
                "`progress` must be True, False or 'auto'. "
                f"Received: progress={progress!r}"
            )
        self.batch_size = batch_size
        self.progress = progress
        self.image_shape = self._find_image_shape(tower, image_shape)
        if not tower.built:
            tower.build((None,) + self.image_shape)
        self.model = model_or_tower
        self.precision = resolve_precision(precision)
        if precision == "auto" and not isinstance(tower, EmbeddingTower):
            # Other layers cannot always be rebuilt; run them as they are.
            self.precision = tower.dtype_policy.name
        self.tower = tower_in_precision(tower, self.precision)
        self._build_functions()

    @classmethod
    def from_saved(cls, path, **kwargs) -> "Comparator":
        """Loads a `.keras` file saved from a SiameseModel or tower.

        Args:
            path: path of the `.keras` file.
            **kwargs: passed to `Comparator` (`precision`, `batch_size`, ...).
        """
        model = load_model_file(path, compile=False)
        return cls(model, **kwargs)

    @staticmethod
    def _find_image_shape(tower, image_shape):
        if image_shape is None:
            image_shape = getattr(tower, "image_shape", None)
        if image_shape is None and isinstance(tower, keras.Model):
            try:
                image_shape = tower.input_shape[1:]
            except (AttributeError, ValueError):
                image_shape = None
        try:
            image_shape = tuple(int(dim) for dim in image_shape)
        except (TypeError, ValueError):
            image_shape = None
        if image_shape is None or len(image_shape) != 3:
            raise InvalidArgumentError(
                "Cannot tell the input size of this tower; pass image_shape="
                "(height, width, channels)."
            )
        return image_shape

    @property
    def embedding_dim(self) -> int:
        """The size of the embeddings this comparator makes."""
        shape = self.tower.compute_output_shape((None,) + self.image_shape)
        return int(shape[-1])

    @property
    def supports_network_heatmaps(self) -> bool:
        return isinstance(self.tower, EmbeddingTower)

    def _build_functions(self):
        tower = self.tower

        def embed(images):
            return ops.cast(tower(images, training=False), "float32")

        self._embed_function = compile_inference(embed, tower.variables)
        if not self.supports_network_heatmaps:
            return
        functions = build_map_functions(tower, self.image_shape[:2])
        self._features_function = functions["features"]
        self._lpips_function = functions["lpips"]
        self._attribution_function = functions["attribution"]

    # Decoding -----------------------------------------------------------

    def load(self, source) -> np.ndarray:
        """Decodes one image and resizes it to the tower's input size."""
        height, width, channels = self.image_shape
        return load_image(source, size=(height, width), channels=channels)

    def _decode_ahead(self, sources):
        """`(content key, pixels)` per source, decoded ahead in threads."""
        return decode_ahead(sources, self.load, lookahead=2 * self.batch_size)

    def _progress_bar(self, total: int):
        return progress_bar(total, self.progress, unit_name="image")

    # Embeddings and scores ----------------------------------------------

    def _embed_batch(self, pixels: list[np.ndarray]) -> np.ndarray:
        batch = np.stack(pixels)
        return ops.convert_to_numpy(self._embed_function(batch))

    def embed(self, images) -> np.ndarray:
        """Embeds images: float32 array `(n, dim)`, one row per input.

        Args:
            images: a list of images (paths, encoded bytes or arrays, see
                `siamesekit.load_image`) or an array batch
                `(n, height, width, channels)`.

        Raises:
            ImageError, ImageNotFoundError: for the first image that cannot
                be read; `embed_readable` skips them instead.
        """
        return self._embed_sources(images, skip=()).embeddings

    def embed_readable(self, images) -> ReadableEmbeddings:
        """Embeds the images that can be read, and lists the others.

        Args:
            images: as in `embed`.

        Returns:
            A `ReadableEmbeddings`: `embeddings` (float32 `(m, dim)`),
            `positions` (the index in `images` of each row) and `skipped`
            (`(index, source, reason)` for each image that could not be read:
            missing, unreadable, corrupt or too large).
        """
        return self._embed_sources(images, skip=(ImageError, OSError))

    def _embed_sources(self, images, skip) -> ReadableEmbeddings:
        images = _as_image_list(images, "images")
        embeddings = None
        row_of_key, pending, keys, skipped = {}, {}, [], []
        bar = self._progress_bar(len(images))

        def flush():
            nonlocal embeddings
            if not pending:
                return
            batch = self._embed_batch(list(pending.values()))
            if embeddings is None:
                embeddings = np.empty((len(images), batch.shape[1]), np.float32)
            start = len(row_of_key)
            embeddings[start : start + len(batch)] = batch
            for offset, key in enumerate(pending):
                row_of_key[key] = start + offset
            pending.clear()

        for position, (key, pixels) in enumerate(
            decode_ahead(images, self.load, 2 * self.batch_size, skip)
        ):
            if key is None:
                skipped.append((position, images[position], str(pixels)))
            else:
                if key not in row_of_key and key not in pending:
                    pending[key] = pixels
                    if len(pending) == self.batch_size:
                        flush()
                keys.append((position, key))
            if bar is not None:
                bar.update(position + 1)
        flush()
        if embeddings is None:
            embeddings = np.zeros((0, self.embedding_dim), np.float32)
        else:
            embeddings = embeddings[[row_of_key[key] for _, key in keys]]
        positions = np.array([position for position, _ in keys], np.int64)
        return ReadableEmbeddings(embeddings, positions, skipped)

    def _scores(self, embeddings_a, embeddings_b):
        unit_a, unit_b = _unit_rows(embeddings_a), _unit_rows(embeddings_b)
        similarity = np.clip(np.sum(unit_a * unit_b, axis=1), -1.0, 1.0)
        squared = np.sum(np.square(embeddings_a - embeddings_b), axis=1)
        # The same floor as siamesekit.euclidean_distance.
        distance = np.sqrt(np.maximum(squared, 1e-12))
        return similarity.astype(np.float32), distance.astype(np.float32)

    def _verdict(self, distance: float):
        if self.threshold is None:
            return None
        return bool(distance < self.threshold)

    def similarity_matrix(
        self,
        images_a,
        images_b=None,
        *,
        chunk_size: int = 1024,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Cosine similarities between every image of `images_a` and `images_b`.

        Each distinct image is embedded once. The matrix is filled
        `chunk_size` rows at a time, so apart from the result (which may be a
        `numpy.memmap` passed as `out`) memory stays bounded.

        Args:
            images_a: list of images or array batch, the rows.
            images_b: list of images or array batch, the columns. Defaults to
                `None`: `images_a` against itself.
            chunk_size: int, rows computed at once. Defaults to `1024`.
            out: optional float32 array `(len(images_a), len(images_b))` to
                write into, for example a `numpy.memmap` for very large sets.

        Returns:
            A float32 array `(len(images_a), len(images_b))` in [-1, 1].
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            chunk_size = 0
        if chunk_size < 1:
            raise InvalidArgumentError(
                f"`chunk_size` must be a positive integer. Received: {chunk_size!r}"
            )
        if images_b is None:
            unit_a = unit_b = _unit_rows(self.embed(images_a))
        else:
            images_a = _as_image_list(images_a, "images_a")
            images_b = _as_image_list(images_b, "images_b")
            # One call, so images present in both lists are embedded once.
            both = self.embed(images_a + images_b)
            unit_a = _unit_rows(both[: len(images_a)])
            unit_b = _unit_rows(both[len(images_a) :])
        shape = (len(unit_a), len(unit_b))
        if out is None:
            out = np.empty(shape, np.float32)
        elif tuple(out.shape) != shape:
            raise InvalidArgumentError(
                f"`out` must have shape {shape}. Received: out.shape={out.shape}"
            )
        for start in range(0, shape[0], chunk_size):
            block = unit_a[start : start + chunk_size] @ unit_b.T
            out[start : start + chunk_size] = np.clip(block, -1.0, 1.0)
        return out

    # Pairs ----------------------------------------------------------------

    def compare(self, a, b, method: str | None = "features") -> ComparisonResult:
        """Compares two images.

        Args:
            a: image 1 (path, encoded bytes or array).
            b: image 2.
            method: the heatmap (see `siamesekit.comparator.heatmaps`):
                `"features"` (feature differences robust to exposure, noise,
                JPEG and small shifts; one more backbone pass for image 2),
                `"lpips"` (plain LPIPS-style map from the scores' own pass),
                `"attribution"` (each position's share of `1 - cos`),
                `"pixels"` (SSIM, no network), or `None` for scores only.
                Defaults to `"features"`.

        Returns:
            A `siamesekit.ComparisonResult`.
        """
        return self.compare_many([(a, b)], method=method)[0]

    def compare_many(
        self, pairs: Iterable[Sequence], method: str | None = "features"
    ) -> list[ComparisonResult]:
        """Compares many pairs, batching the distinct images.

        With `method=None` (scores only) each distinct image goes through the
        network exactly once. With a heatmap, pairs are processed in order in
        groups holding at most `batch_size` distinct images, and each distinct
        image goes through the network once per group it appears in.

        Args:
            pairs: iterable of `(image_1, image_2)`.
            method: as in `compare`. Defaults to `"features"`.

        Returns:
            A list of `siamesekit.ComparisonResult`, one per pair, in order.
        """
        if method is not None:
            heatmaps.check_method(method)
            if method != "pixels" and not self.supports_network_heatmaps:
                raise InvalidArgumentError(
                    f"The '{method}' map needs a siamesekit.EmbeddingTower; this "
                    f"comparator wraps a {type(self.tower).__name__}. Use "
                    "method='pixels' or method=None."
                )
            if method == "attribution" and self.tower.num_test_time_views > 1:
                raise InvalidArgumentError(
                    "The 'attribution' map decomposes the similarity of one view "
                    "of each image, but this tower averages "
                    f"{self.tower.num_test_time_views} test-time views. Use "
                    "method='features' or 'pixels', or a tower made with "
                    "test_time_zooms=None and test_time_flip=False."
                )
        pairs = list(pairs)
        for pair in pairs:
            if isinstance(pair, (str, bytes, np.ndarray)) or len(pair) != 2:
                raise InvalidArgumentError(
                    "`pairs` must be a list of (image_1, image_2) pairs. "
                    f"Received an item of type {type(pair).__name__}"
                )
        if method is None:
            return self._compare_scores_only(pairs)
        results = []
        bar = self._progress_bar(2 * len(pairs))
        for group in self._pair_groups(pairs):
            results.extend(self._compare_group(group, method))
            if bar is not None:
                bar.add(2 * len(group))
        return results

    def _compare_scores_only(self, pairs):
        firsts = [pair[0] for pair in pairs]
        seconds = [pair[1] for pair in pairs]
        embeddings = self.embed(firsts + seconds)
        similarity, distance = self._scores(
            embeddings[: len(pairs)], embeddings[len(pairs) :]
        )
        return [
            ComparisonResult(
                similarity=float(similarity[i]),
                distance=float(distance[i]),
                same=self._verdict(float(distance[i])),
                method=None,
                heatmap=None,
                display_scale=None,
                image_a=None,
                image_b=None,
            )
            for i in range(len(pairs))
        ]

    def _pair_groups(self, pairs):
        """Yields runs of decoded pairs with at most `batch_size` distinct images."""
        sources = (source for pair in pairs for source in pair)
        decoded = self._decode_ahead(sources)
        group, keys = [], set()
        for first in decoded:
            pair = (first, next(decoded))
            new_keys = {key for key, _ in pair} - keys
            if group and len(keys) + len(new_keys) > max(self.batch_size, 2):
                yield group
                group, keys = [], set()
            keys.update(key for key, _ in pair)
            group.append(pair)
        if group:
            yield group

    def _compare_group(self, group, method):
        distinct, row_of_key = [], {}
        for pair in group:
            for key, pixels in pair:
                if key not in row_of_key:
                    row_of_key[key] = len(distinct)
                    distinct.append(pixels)
        batch = np.stack(distinct)
        index_a = np.array([row_of_key[pair[0][0]] for pair in group], np.int32)
        index_b = np.array([row_of_key[pair[1][0]] for pair in group], np.int32)
        if method in ("features", "lpips"):
            function = self._features_function
            if method == "lpips":
                function = self._lpips_function
            embeddings, maps = function(batch, index_a, index_b)
            maps = ops.convert_to_numpy(maps)
        elif method == "attribution":
            embeddings, last = self._attribution_function(batch)
            last = ops.convert_to_numpy(last)
        else:
            embeddings = self._embed_function(batch)
        embeddings = ops.convert_to_numpy(embeddings)
        similarity, distance = self._scores(embeddings[index_a], embeddings[index_b])
        size = self.image_shape[:2]
        results = []
        for i, pair in enumerate(group):
            image_a, image_b = pair[0][1], pair[1][1]
            if method in ("features", "lpips"):
                heatmap = maps[i]
            elif method == "attribution":
                grid = attribution.dissimilarity_shares(
                    last[index_a[i]],
                    last[index_b[i]],
                    embeddings[index_a[i]],
                    embeddings[index_b[i]],
                    self.tower,
                )
                heatmap = attribution.upsample_preserving_sum(grid, size)
            else:
                heatmap = heatmaps.pixel_difference_map(image_a, image_b)
            results.append(
                ComparisonResult(
                    similarity=float(similarity[i]),
                    distance=float(distance[i]),
                    same=self._verdict(float(distance[i])),
                    method=method,
                    heatmap=np.asarray(heatmap, np.float32),
                    display_scale=display_scale(method),
                    image_a=image_a,
                    image_b=image_b,
                )
            )
        return results

    def __repr__(self) -> str:
        return (
            f"Comparator(tower={type(self.tower).__name__}, "
            f"image_shape={self.image_shape}, precision={self.precision!r}, "
            f"batch_size={self.batch_size})"
        )

"""Verification metrics on identities: ROC AUC, equal error rate, threshold."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from siamesekit.arguments import check_integer
from siamesekit.compiled import compile_inference
from siamesekit.data.identities import check_images, group_identities
from siamesekit.errors import DatasetError, InvalidArgumentError


@dataclasses.dataclass(frozen=True)
class VerificationResult:
    """How well distances separate same-identity pairs from the others.

    Attributes:
        auc: ROC AUC of `-distance` as a score for "same identity".
        eer: equal error rate: where the false accept rate equals the false
            reject rate (linearly interpolated on the ROC curve).
        threshold: the distance threshold with the best accuracy; pairs with
            `distance < threshold` are called the same.
        accuracy: accuracy of that threshold on these pairs.
        distances: float array, the distance of each pair.
        labels: int array, 1 where a pair shows one identity.
        first: int array, index of each pair's first image (may be empty).
        second: int array, index of each pair's second image (may be empty).
        sampled: whether the pairs are a random sample of all pairs.
    """

    auc: float
    eer: float
    threshold: float
    accuracy: float
    distances: np.ndarray
    labels: np.ndarray
    first: np.ndarray
    second: np.ndarray
    sampled: bool = False

    @property
    def num_pairs(self) -> int:
        return len(self.labels)

    @property
    def num_positive(self) -> int:
        return int(self.labels.sum())

    def summary(self) -> str:
        """One line: AUC, EER, threshold and accuracy, with the pair counts."""
        kind = "sampled pairs" if self.sampled else "pairs"
        return (
            f"ROC AUC {self.auc:.4f}  EER {self.eer:.4f}  threshold "
            f"{self.threshold:.4f}  accuracy {self.accuracy:.4f}  on "
            f"{self.num_pairs} {kind} ({self.num_positive} same identity)"
        )

    def __str__(self):
        return self.summary()


def verification_metrics(
    distances, labels, first=None, second=None, *, sampled: bool = False
) -> VerificationResult:
    """Computes ROC AUC, EER and the best-accuracy threshold from distances.

    The ROC curve comes from `sklearn.metrics.roc_curve` with `-distance`
    as the score, so a small distance means "same identity".

    Args:
        distances: float array, one distance per pair.
        labels: array of 1 (same identity) and 0 (different), one per pair.
        first, second: optional image indices of each pair, kept for plots.
        sampled: whether the pairs are a sample of all pairs.

    Returns:
        A `VerificationResult`.

    Raises:
        DatasetError: if the pairs are not all of one kind, or a distance is
            NaN or infinite.
    """
    distances = np.asarray(distances, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(np.int64)
    if len(distances) != len(labels):
        raise DatasetError(
            f"Got {len(distances)} distances for {len(labels)} labels; there "
            "must be one distance per labelled pair."
        )
    if not np.isin(labels, (0, 1)).all():
        raise DatasetError("Pair labels must be 1 (same) or 0 (different).")
    if labels.min(initial=1) == labels.max(initial=0):
        raise DatasetError(
            "Verification metrics need both same-identity and "
            "different-identity pairs; got only one kind. Evaluate on at least "
            "two identities, one of them with two or more images."
        )
    if not np.isfinite(distances).all():
        raise DatasetError(
            "Some distances are NaN or infinite; the model's embeddings are "
            "not finite (did training diverge?)."
        )
    scores = -distances
    auc = float(roc_auc_score(labels, scores))
    false_accept, true_accept, score_thresholds = roc_curve(
        labels, scores, drop_intermediate=False
    )
    false_reject = 1.0 - true_accept
    # First point where the false reject rate drops to or below the false
    # accept rate; interpolate between it and the point before.
    crossing = int(np.argmax(false_reject <= false_accept))
    if crossing == 0:
        eer = float(false_accept[0])
    else:
        before_gap = false_reject[crossing - 1] - false_accept[crossing - 1]
        after_gap = false_reject[crossing] - false_accept[crossing]
        weight = before_gap / (before_gap - after_gap)
        eer = float(
            false_accept[crossing - 1]
            + weight * (false_accept[crossing] - false_accept[crossing - 1])
        )

    num_positive = labels.sum()
    num_negative = len(labels) - num_positive
    correct = true_accept * num_positive + (1.0 - false_accept) * num_negative
    best = int(np.argmax(correct))
    accuracy = float(correct[best] / len(labels))
    # Point `best` calls "same" every pair with distance <= -score_thresholds
    # [best]; the threshold for `distance < threshold` lies halfway to the
    # next larger distance.
    sorted_distances = -score_thresholds  # increasing; the first is -inf
    if best == 0:
        threshold = float(sorted_distances[1])
    elif best == len(sorted_distances) - 1:
        threshold = float(sorted_distances[best]) * (1 + 1e-6) + 1e-12
    else:
        threshold = float((sorted_distances[best] + sorted_distances[best + 1]) / 2)
    empty = np.zeros(0, dtype=np.int64)
    return VerificationResult(
        auc=auc,
        eer=eer,
        threshold=max(threshold, 1e-12),
        accuracy=accuracy,
        distances=distances,
        labels=labels,
        first=empty if first is None else np.asarray(first),
        second=empty if second is None else np.asarray(second),
        sampled=sampled,
    )


def _pair_from_linear_index(index, count):
    """Maps `k` in [0, count*(count-1)/2) to the k-th pair (i < j), row-major."""
    index = np.asarray(index, dtype=np.int64)
    row = (
        count
        - 2
        - np.floor(
            np.sqrt(-8.0 * index + 4.0 * count * (count - 1) - 7) / 2.0 - 0.5
        ).astype(np.int64)
    )
    column = (
        index
        + row
        + 1
        - count * (count - 1) // 2
        + (count - row) * (count - row - 1) // 2
    )
    return row, column


def all_pairs(num_images: int, *, max_pairs: int | None = None, seed: int = 0):
    """Index pairs `(i, j)`, `i < j`: all of them, or a uniform sample.

    Args:
        num_images: int, number of images.
        max_pairs: int, the largest number of pairs to return; with more
            pairs than this, a uniform random sample without repeats is
            drawn. Defaults to `None` (all pairs).
        seed: int, seed of the sample. Defaults to `0`.

    Returns:
        `(first, second, sampled)`.
    """
    max_pairs = check_integer("max_pairs", max_pairs, minimum=1, allow_none=True)
    seed = check_integer("seed", seed, minimum=0)
    total = num_images * (num_images - 1) // 2
    if max_pairs is None or total <= max_pairs:
        first, second = np.triu_indices(num_images, k=1)
        return first, second, False
    chosen = np.sort(
        np.random.default_rng(seed).choice(total, max_pairs, replace=False)
    )
    first, second = _pair_from_linear_index(chosen, num_images)
    return first, second, True


def embed_images(model_or_comparator, images, *, batch_size=64, flip=False):
    """Embeds images with a `SiameseModel`, a tower, or anything with `.embed`.

    Args:
        model_or_comparator: a `siamesekit.SiameseModel` (its `tower` is
            used), a Keras layer or model mapping images to embeddings, or an
            object with an `embed(images)` method such as
            `siamesekit.Comparator`.
        images: array `(num_images, height, width, channels)`.
        batch_size: int, images per forward pass. Defaults to `64`.
        flip: bool, average each embedding with that of the mirrored image
            (test-time augmentation; a tower made with `test_time_flip=True`
            already does). Defaults to `False`.

    Returns:
        float32 array `(num_images, embedding_dim)`.
    """
    images = np.asarray(images, dtype=np.float32)
    if isinstance(model_or_comparator, keras.layers.Layer):
        # A SiameseModel embeds with its tower.
        tower = getattr(model_or_comparator, "tower", model_or_comparator)
        if not tower.built:
            # Its variables must exist before a compiled function reads them.
            tower.build((None,) + images.shape[1:])
        embed_batch = compile_inference(
            lambda batch: tower(batch, training=False), tower.variables
        )

        def embed(batch):
            parts = [
                keras.ops.convert_to_numpy(
                    embed_batch(batch[start : start + batch_size])
                )
                for start in range(0, len(batch), batch_size)
            ]
            return np.concatenate(parts).astype(np.float32)

    elif callable(getattr(model_or_comparator, "embed", None)):

        def embed(batch):
            return np.asarray(model_or_comparator.embed(batch), dtype=np.float32)

    else:
        raise InvalidArgumentError(
            "`model_or_comparator` must be a siamesekit.SiameseModel, a Keras "
            "tower, or an object with an `embed(images)` method such as "
            "siamesekit.Comparator. Received: "
            f"{type(model_or_comparator).__name__}"
        )

    embeddings = embed(images)
    if flip:
        flipped = embed(np.ascontiguousarray(images[:, :, ::-1]))
        norms = np.linalg.norm(embeddings, axis=1)
        embeddings = (embeddings + flipped) / 2.0
        # Unit-length embeddings stay unit-length.
        if np.allclose(norms, 1.0, atol=1e-3):
            embeddings /= np.maximum(
                np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12
            )
    return embeddings


def evaluate_verification(
    model_or_comparator,
    images,
    labels,
    *,
    max_pairs: int | None = 500_000,
    batch_size: int = 64,
    flip: bool = False,
    seed: int = 0,
) -> VerificationResult:
    """Measures verification on all pairs of `images`: ROC AUC, EER, threshold.

    Each image is embedded once; the Euclidean distance of every pair of
    embeddings is the score (small = same identity). Evaluate on identities
    the model never saw in training (`siamesekit.data.split_by_identity`).

    Args:
        model_or_comparator: a `siamesekit.SiameseModel`, an embedding tower,
            or an object with `embed(images)` such as `siamesekit.Comparator`.
        images: array `(num_images, height, width, channels)`, pixels in
            [0, 255].
        labels: one identity label per image.
        max_pairs: int, with more pairs than this a uniform random sample of
            `max_pairs` pairs is used (`result.sampled` says so). `None`
            always uses all pairs. Defaults to `500_000`.
        batch_size: int, images per forward pass. Defaults to `64`.
        flip: bool, average each embedding with its mirror image's (a
            tower made with `test_time_flip=True` already does). Defaults to
            `False`.
        seed: int, seed of the pair sample. Defaults to `0`.

    Returns:
        A `VerificationResult`; `result.threshold` can be stored on the model
        with `model.threshold = result.threshold`.

    Example:

    ```python
    result = siamesekit.evaluation.evaluate_verification(
        model, test_images, test_labels
    )
    print(result.summary())
    model.threshold = result.threshold
    ```
    """
    batch_size = check_integer("batch_size", batch_size, minimum=1)
    images = check_images(images)
    identities = group_identities(labels, num_images=len(images))
    first, second, sampled = all_pairs(len(images), max_pairs=max_pairs, seed=seed)
    embeddings = embed_images(
        model_or_comparator, images, batch_size=batch_size, flip=flip
    )
    squared = np.sum(np.square(embeddings[first] - embeddings[second]), axis=1)
    # The same floor as siamesekit.euclidean_distance, so that a threshold
    # measured here means the same for SiameseModel and Comparator.
    distances = np.sqrt(np.maximum(squared, 1e-12))
    pair_labels = (identities.ids[first] == identities.ids[second]).astype(np.int64)
    return verification_metrics(distances, pair_labels, first, second, sampled=sampled)

"""Maps of where two images differ, each on a fixed, documented scale.

- `feature_distance_map` ("features", LPIPS-style): per position of each
  backbone stage, the feature vectors of the two images are divided by their
  channel norm and compared: `|a/|a| - b/|b||^2 / 4 = (1 - cos) / 2`. Stage
  maps are resized to the image size (bilinear) and averaged. Scale [0, 1]:
  0 where the features agree, 0.5 where they are orthogonal (the most that
  non-negative ReLU features can differ), 1 where they point in opposite
  directions.
- `attribution_maps` ("attribution", Stylianou et al. 2019): how much each
  position contributes to the cosine similarity of the two embeddings; each
  map sums to that similarity.
- `pixel_difference_map` ("pixels"): `(1 - SSIM) / 2` per pixel, no network.
  Scale [0, 1] as for "features".

Maps are never min-max stretched per image: two identical images give an
all-zero "features" and "pixels" map.

References:
    Zhang, Isola, Efros, Shechtman, Wang, "The Unreasonable Effectiveness of
    Deep Features as a Perceptual Metric", CVPR 2018.
    Stylianou, Souvenir, Pless, "Visualizing Deep Similarity Networks",
    WACV 2019.
    Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP 2004.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
from keras import ops
from skimage.metrics import structural_similarity

from siamesekit.errors import InvalidArgumentError

METHODS = ("features", "attribution", "pixels")

# As in LPIPS: keeps all-zero feature vectors (dead ReLU positions) finite.
_NORM_EPSILON = 1e-10


def check_method(method):
    if method not in METHODS:
        raise InvalidArgumentError(
            f"`method` must be one of {METHODS}. Received: method={method!r}"
        )
    return method


def feature_distance_map(stages_a, stages_b, size):
    """LPIPS-style distance map between two batches of multi-stage features.

    Args:
        stages_a: list of tensors `(pairs, height_s, width_s, channels_s)`,
            one per backbone stage, for the first image of each pair.
        stages_b: the same for the second image of each pair.
        size: `(height, width)` of the output map.

    Returns:
        A float32 tensor `(pairs, height, width)` with values in [0, 1].
    """
    total = None
    for stage_a, stage_b in zip(stages_a, stages_b):
        distance = _unit_vector_distance(stage_a, stage_b)
        if tuple(distance.shape[1:3]) != tuple(size):
            distance = ops.image.resize(distance, size, interpolation="bilinear")
        total = distance if total is None else total + distance
    mean = total / float(len(stages_a))
    return ops.clip(ops.squeeze(mean, axis=-1), 0.0, 1.0)


# Below the rounding error of the expanded distance (terms of at most 1).
_ROUNDING_FLOOR = 1e-6


def _sums_dtype(dtype):
    """The dtype `_unit_vector_distance` sums features of `dtype` in.

    bfloat16 features (a mixed_bfloat16 tower) are summed in bfloat16, like
    the rest of that forward pass: it reads half the bytes of a float32 copy
    and, with float32's exponent range, squares cannot overflow. Measured on
    VGG16 stages of photos: 40% less time, maps within 1.4e-3 of float32
    sums, the size of the gap (1.9e-3) that the bfloat16 forward pass itself
    opens. float16 squares overflow above 256, so all else uses float32.
    """
    if keras.backend.standardize_dtype(dtype) == "bfloat16":
        return "bfloat16"
    return "float32"


def _unit_vector_distance(a, b):
    """`|a/(|a|+eps) - b/(|b|+eps)|^2 / 4` over the last axis, keeping it.

    Expanded into `|a|^2`, `|b|^2` and `a . b`, so no normalized copy of the
    features is made (half the time on the large early stages). For equal
    inputs the three sums are equal bit for bit and the result is exactly 0.
    The sums are taken in `_sums_dtype`, the rest in float32.
    """
    dtype = _sums_dtype(a.dtype)
    a, b = ops.cast(a, dtype), ops.cast(b, dtype)

    def channel_sum(values):
        return ops.cast(ops.sum(values, axis=-1, keepdims=True), "float32")

    squared_a = channel_sum(ops.square(a))
    squared_b = channel_sum(ops.square(b))
    dot = channel_sum(a * b)
    norm_a = ops.sqrt(squared_a) + _NORM_EPSILON
    norm_b = ops.sqrt(squared_b) + _NORM_EPSILON
    distance = (
        squared_a / (norm_a * norm_a)
        + squared_b / (norm_b * norm_b)
        - 2.0 * (dot / (norm_a * norm_b))
    ) / 4.0
    # XLA (the JAX backend) may fuse the three terms differently, so equal
    # inputs leave float32 rounding noise of ~1e-8 instead of an exact 0.
    return ops.where(distance < _ROUNDING_FLOOR, 0.0, distance)


def _contributions(feature_map, tower, query):
    """Per-position contributions `S(i)` of one image's embedding to `e . query`.

    The head of an `EmbeddingTower` is pooling -> Dense(relu) -> Dense
    [-> standardization] [-> whitening] [-> L2 normalization], the middle two
    affine at inference. With the ReLU pattern and max-pooling winners of
    this image held fixed, the embedding is exactly a sum of one linear
    term per position plus a bias term, so `S(i) = term_i . query`.
    """
    grid_height, grid_width, channels = feature_map.shape
    positions = grid_height * grid_width
    features = feature_map.reshape(positions, channels).astype(np.float64)
    hidden_kernel, hidden_bias = (
        np.asarray(w, np.float64) for w in tower.hidden.get_weights()
    )
    embedding_kernel, embedding_bias = (
        np.asarray(w, np.float64) for w in tower.embedding.get_weights()
    )
    if tower.standardization is not None:
        # At inference the standardization is affine: fold it into the layer.
        layer = tower.standardization
        mean, variance = (
            np.asarray(w, np.float64)
            for w in (layer.moving_mean, layer.moving_variance)
        )
        scale = 1.0 / np.sqrt(variance + layer.epsilon)
        embedding_kernel = embedding_kernel * scale
        embedding_bias = (embedding_bias - mean) * scale
    if tower.whitening is not None:
        # So is the whitening: `(x - mean) @ matrix`.
        mean, matrix = (
            np.asarray(w, np.float64)
            for w in (tower.whitening.mean, tower.whitening.matrix)
        )
        embedding_kernel = embedding_kernel @ matrix
        embedding_bias = (embedding_bias - mean) @ matrix
    if tower.pooling == "flatten":
        # Flatten orders the vector position by position, channels inside.
        kernel = hidden_kernel.reshape(positions, channels, -1)
        hidden_terms = np.einsum("pc,pcu->pu", features, kernel)
    elif tower.pooling == "avg":
        hidden_terms = features @ hidden_kernel / positions
    else:
        winners = np.argmax(features, axis=0)
        mask = np.zeros_like(features)
        mask[winners, np.arange(channels)] = 1.0
        hidden_terms = (features * mask) @ hidden_kernel
    active = (hidden_terms.sum(axis=0) + hidden_bias) > 0
    unnormalized = (hidden_terms.sum(axis=0) + hidden_bias) * active
    unnormalized = unnormalized @ embedding_kernel + embedding_bias
    scale = 1.0
    if tower.normalize:
        scale = 1.0 / max(float(np.linalg.norm(unnormalized)), 1e-12)
    direction = (embedding_kernel @ query) * active * scale
    return (hidden_terms @ direction).reshape(grid_height, grid_width)


def attribution_maps(feature_map_a, feature_map_b, embedding_a, embedding_b, tower):
    """Decomposes the cosine similarity of two embeddings over positions.

    Stylianou et al. write, for average-pooled features a, b of last conv
    maps A, B with N positions, `S1(i) = A_i . b / (N |a| |b|)`, a map that
    sums to cos(a, b). Here the same is done through the tower's head, so
    the maps explain the similarity of the embeddings that siamesekit
    reports: position i of image 1 gets `c_i . e_b / (|e_a| |e_b|)`, where
    `c_i` is its exact linear share of `e_a` (see `_contributions`). What no
    position owns (the Dense biases, and the rounding of a mixed precision
    forward pass) is spread evenly over the positions, so each map sums to
    the reported similarity exactly.

    Args:
        feature_map_a: float array `(grid_height, grid_width, channels)`, the
            backbone output of image 1.
        feature_map_b: the same for image 2.
        embedding_a: float array `(dim,)`, the embedding reported for image 1.
        embedding_b: the same for image 2.
        tower: the `siamesekit.EmbeddingTower` that produced them.

    Returns:
        Two float64 arrays `(grid_height, grid_width)`, for image 1 and image
        2, each summing to the cosine similarity of the embeddings.
    """
    embedding_a = np.asarray(embedding_a, np.float64)
    embedding_b = np.asarray(embedding_b, np.float64)
    norms = np.linalg.norm(embedding_a) * np.linalg.norm(embedding_b)
    if norms < 1e-12:
        # A zero embedding has similarity 0 with everything.
        return np.zeros(feature_map_a.shape[:2]), np.zeros(feature_map_b.shape[:2])
    similarity = float(np.clip(embedding_a @ embedding_b / norms, -1.0, 1.0))
    maps = []
    for feature_map, other in (
        (feature_map_a, embedding_b),
        (feature_map_b, embedding_a),
    ):
        share = _contributions(np.asarray(feature_map), tower, other / norms)
        share += (similarity - share.sum()) / share.size
        maps.append(share)
    return maps[0], maps[1]


def _interpolation_matrix(source, target):
    """The (target, source) matrix of OpenCV's 1-D bilinear resize."""
    identity = np.eye(source, dtype=np.float64)
    return cv2.resize(identity, (source, target), interpolation=cv2.INTER_LINEAR)


def upsample_preserving_sum(grid, size):
    """Smoothly resizes a map of per-cell amounts, keeping its exact total.

    Each cell's amount is spread over the pixels in proportion to its
    bilinear interpolation weights, so the output sums to `grid.sum()`.

    Args:
        grid: float array `(grid_height, grid_width)`.
        size: `(height, width)` of the output.

    Returns:
        A float64 array of shape `size`.
    """
    grid = np.asarray(grid, np.float64)
    rows = _interpolation_matrix(grid.shape[0], size[0])
    columns = _interpolation_matrix(grid.shape[1], size[1])
    weight = np.outer(rows.sum(axis=0), columns.sum(axis=0))
    return rows @ (grid / weight) @ columns.T


def pixel_difference_map(image_a, image_b):
    """`(1 - SSIM) / 2` per pixel between two same-size 0-255 images.

    SSIM uses the 7x7 uniform window of scikit-image; colour images are
    compared channel by channel and averaged.

    Args:
        image_a: float array `(height, width, channels)` in [0, 255].
        image_b: the same shape as `image_a`.

    Returns:
        A float32 array `(height, width)` with values in [0, 1].
    """
    image_a = np.asarray(image_a, np.float64)
    image_b = np.asarray(image_b, np.float64)
    if image_a.shape != image_b.shape:
        raise InvalidArgumentError(
            "Both images must have the same shape for a pixel map. Received: "
            f"shapes {image_a.shape} and {image_b.shape}"
        )
    if min(image_a.shape[:2]) < 7:
        raise InvalidArgumentError(
            "The 'pixels' map needs images of at least 7x7 pixels. Received: "
            f"shape {image_a.shape}"
        )
    _, similarity = structural_similarity(
        image_a, image_b, data_range=255.0, channel_axis=-1, full=True
    )
    difference = (1.0 - similarity.mean(axis=-1)) / 2.0
    return np.clip(difference, 0.0, 1.0).astype(np.float32)

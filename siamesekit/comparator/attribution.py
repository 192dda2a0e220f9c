"""Decomposing the score of two embeddings over image positions.

`similarity_shares` (Stylianou et al. 2019) splits the cosine similarity of
two embeddings into one share per position; `dissimilarity_shares` splits
`1 - cos`, so what it highlights is what pulls the score down, and two
identical images give an all-zero map. Both are exact: the shares sum to the
reported score.

Reference:
    Stylianou, Souvenir, Pless, "Visualizing Deep Similarity Networks",
    WACV 2019.
"""

from __future__ import annotations

import cv2
import numpy as np


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


def similarity_shares(feature_map_a, feature_map_b, embedding_a, embedding_b, tower):
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


def dissimilarity_shares(feature_map_a, feature_map_b, embedding_a, embedding_b, tower):
    """Decomposes `1 - cos` of two embeddings over the positions they share.

    With unit embeddings `u_a = e_a / |e_a|` and `u_b`,
    `1 - cos = |u_a - u_b|^2 / 2`. Writing each unit embedding as the sum
    of its exact position terms (`t_a(i)`, see `_contributions`) plus what
    no position owns, position `i` gets
    `D(i) = (t_a(i) - t_b(i)) . (u_a - u_b) / 2`: how far the change of its
    terms between the two images moves them apart. Both images must have the
    same grid (the Comparator feeds both at the tower's input size). What no
    position owns (the Dense biases, mixed precision rounding) is spread
    evenly, so the map sums to `1 - cos` exactly. Two identical images give
    `u_a = u_b` and an all-zero map. A negative share is a position whose
    change brings the embeddings closer.

    Args:
        feature_map_a: float array `(grid_height, grid_width, channels)`, the
            backbone output of image 1.
        feature_map_b: the same for image 2, with the same shape.
        embedding_a: float array `(dim,)`, the embedding reported for image 1.
        embedding_b: the same for image 2.
        tower: the `siamesekit.EmbeddingTower` that produced them.

    Returns:
        A float64 array `(grid_height, grid_width)` summing to
        `1 - cos(embedding_a, embedding_b)`.
    """
    embedding_a = np.asarray(embedding_a, np.float64)
    embedding_b = np.asarray(embedding_b, np.float64)
    norm_a, norm_b = np.linalg.norm(embedding_a), np.linalg.norm(embedding_b)
    shape = np.asarray(feature_map_a).shape[:2]
    if norm_a < 1e-12 or norm_b < 1e-12:
        # A zero embedding has similarity 0 with everything: spread the 1.
        return np.full(shape, 1.0 / float(np.prod(shape)))
    unit_a, unit_b = embedding_a / norm_a, embedding_b / norm_b
    dissimilarity = 1.0 - float(np.clip(unit_a @ unit_b, -1.0, 1.0))
    half_difference = (unit_a - unit_b) / 2.0
    shares = _contributions(
        np.asarray(feature_map_a), tower, half_difference / norm_a
    ) - _contributions(np.asarray(feature_map_b), tower, half_difference / norm_b)
    return shares + (dissimilarity - shares.sum()) / shares.size


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

"""Distances and similarities between batches of embeddings, in `keras.ops`."""

from keras import ops

# Keeps the gradient of sqrt finite for identical embeddings.
_EPSILON = 1e-12


def euclidean_distance(a, b):
    """Euclidean distance between matching rows of `a` and `b`, float32.

    Args:
        a: tensor of shape `(batch, dim)`.
        b: tensor of shape `(batch, dim)`.

    Returns:
        Tensor of shape `(batch,)`.
    """
    a = ops.cast(a, "float32")
    b = ops.cast(b, "float32")
    squared = ops.sum(ops.square(a - b), axis=-1)
    return ops.sqrt(ops.maximum(squared, _EPSILON))


def cosine_similarity(a, b):
    """Cosine similarity in [-1, 1] between matching rows of `a` and `b`, float32.

    A zero vector has similarity 0 with everything (never NaN).

    Args:
        a: tensor of shape `(batch, dim)`.
        b: tensor of shape `(batch, dim)`.

    Returns:
        Tensor of shape `(batch,)`.
    """
    a = ops.cast(a, "float32")
    b = ops.cast(b, "float32")
    norms = ops.norm(a, axis=-1) * ops.norm(b, axis=-1)
    similarity = ops.sum(a * b, axis=-1) / ops.maximum(norms, _EPSILON)
    return ops.clip(similarity, -1.0, 1.0)

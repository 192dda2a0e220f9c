"""Contrastive loss over every pair of a batch of labelled embeddings."""

import keras
from keras import ops

from siamesekit.losses.arguments import check_margin
from siamesekit.losses.in_batch import InBatchLoss

# Keeps the gradient of sqrt finite on the diagonal (distance 0).
_EPSILON = 1e-12


def pairwise_distances(embeddings):
    """Euclidean distances between all rows of `embeddings`, float32.

    Args:
        embeddings: tensor `(batch, dim)`.

    Returns:
        Tensor `(batch, batch)`.
    """
    embeddings = ops.cast(embeddings, "float32")
    squared_norms = ops.sum(ops.square(embeddings), axis=-1)
    squared = (
        squared_norms[:, None]
        + squared_norms[None, :]
        - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings))
    )
    return ops.sqrt(ops.maximum(squared, _EPSILON))


def pair_masks(identity_ids):
    """Float masks `(batch, batch)` of same-identity and different pairs.

    The same-identity mask leaves out each image paired with itself.
    """
    identity_ids = ops.reshape(identity_ids, (-1,))
    same = ops.cast(ops.equal(identity_ids[:, None], identity_ids[None, :]), "float32")
    positive = same - ops.eye(ops.shape(identity_ids)[0], dtype="float32")
    return positive, 1.0 - same


def in_batch_contrastive_loss(identity_ids, embeddings, margin=1.0):
    """Contrastive loss over all pairs of a batch, from one embedding per image.

    With `d` the distance of a pair, similar pairs cost `d^2` and dissimilar
    pairs `max(margin - d, 0)^2`, as in `siamesekit.losses.contrastive_loss`.
    The loss is the mean cost of the similar pairs plus the mean cost of the
    dissimilar pairs that still violate the margin: easy negatives, which
    are the vast majority, do not dilute the signal of the hard ones
    ("batch all" averaging of Hermans et al.).

    Args:
        identity_ids: int tensor `(batch,)`, the identity of each image.
        embeddings: tensor `(batch, dim)`.
        margin: positive float. Defaults to `1.0`.

    Returns:
        Scalar tensor.

    Reference:
        Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006; Hermans, Beyer, Leibe, "In Defense of
        the Triplet Loss for Person Re-Identification", 2017.
    """
    check_margin(margin)
    distances = pairwise_distances(embeddings)
    positive, negative = pair_masks(identity_ids)
    positive_cost = ops.sum(positive * ops.square(distances)) / ops.maximum(
        ops.sum(positive), 1.0
    )
    violation = negative * ops.square(ops.relu(margin - distances))
    active = ops.sum(ops.cast(violation > 0, "float32"))
    negative_cost = ops.sum(violation) / ops.maximum(active, 1.0)
    return positive_cost + negative_cost


@keras.saving.register_keras_serializable(package="siamesekit")
class InBatchContrastiveLoss(InBatchLoss):
    """Contrastive loss over all pairs of a batch of embeddings.

    `y_true` holds the identity number of each image and `y_pred` the
    embeddings, so a batch of `N` images gives `N * (N - 1) / 2` pairs for
    the cost of `N` tower passes. Use it with P x K batches
    (`siamesekit.data.identity_batch_dataset`), where every identity has
    several images in the batch.

    Args:
        margin: positive float. Defaults to `1.0`.
        name: name of the loss. Defaults to `"in_batch_contrastive_loss"`.
        dtype: dtype of the loss computations. Defaults to `None`.

    Example:

    ```python
    model = siamesekit.SiameseModel(tower)
    model.compile("adam", loss=siamesekit.losses.InBatchContrastiveLoss(0.8))
    model.fit(siamesekit.data.identity_batch_dataset(images, labels))
    ```
    """

    def __init__(self, margin=1.0, name="in_batch_contrastive_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        check_margin(margin)
        self.margin = float(margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}

    def call(self, y_true, y_pred):
        return in_batch_contrastive_loss(y_true, y_pred, margin=self.margin)

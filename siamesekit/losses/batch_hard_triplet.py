"""Batch-hard triplet loss of Hermans, Beyer and Leibe (2017)."""

import keras
from keras import ops

from siamesekit.losses.arguments import check_margin
from siamesekit.losses.in_batch import InBatchLoss
from siamesekit.losses.in_batch_contrastive import pair_masks, pairwise_distances


def batch_hard_triplet_loss(identity_ids, embeddings, margin=0.3):
    """Triplet loss on the hardest pairs of each image in the batch.

    For each image (the anchor), its farthest same-identity image and its
    closest other-identity image form a triplet costing
    `max(d_positive - d_negative + margin, 0)`; the loss is the mean over
    anchors. Anchors without a same-identity image in the batch are left
    out. Unlike the contrastive loss it only asks for an order (same closer
    than different), which suits ROC AUC, a ranking measure.

    Args:
        identity_ids: int tensor `(batch,)`, the identity of each image.
        embeddings: tensor `(batch, dim)`, best L2-normalized.
        margin: positive float. Defaults to `0.3`.

    Returns:
        Scalar tensor.

    Reference:
        Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person
        Re-Identification", arXiv:1703.07737, 2017.
    """
    check_margin(margin)
    distances = pairwise_distances(embeddings)
    positive, negative = pair_masks(identity_ids)
    hardest_positive = ops.max(positive * distances, axis=1)
    # Same-identity entries are pushed out of the minimum.
    largest = ops.max(distances)
    hardest_negative = ops.min(distances + (1.0 - negative) * (largest + 1.0), axis=1)
    has_positive = ops.cast(ops.sum(positive, axis=1) > 0, "float32")
    costs = ops.relu(hardest_positive - hardest_negative + margin) * has_positive
    return ops.sum(costs) / ops.maximum(ops.sum(has_positive), 1.0)


@keras.saving.register_keras_serializable(package="siamesekit")
class BatchHardTripletLoss(InBatchLoss):
    """Batch-hard triplet loss: `y_true` identities, `y_pred` embeddings.

    For P x K batches (`siamesekit.data.identity_batch_dataset`) fed to a
    `siamesekit.SiameseModel`. See `batch_hard_triplet_loss`.

    Args:
        margin: positive float. Defaults to `0.3`.
        name: name of the loss. Defaults to `"batch_hard_triplet_loss"`.
        dtype: dtype of the loss computations. Defaults to `None`.

    Example:

    ```python
    model = siamesekit.SiameseModel(tower)
    model.compile("adam", loss=siamesekit.losses.BatchHardTripletLoss(0.3))
    ```

    Reference:
        Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person
        Re-Identification", arXiv:1703.07737, 2017.
    """

    def __init__(self, margin=0.3, name="batch_hard_triplet_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        check_margin(margin)
        self.margin = float(margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}

    def call(self, y_true, y_pred):
        return batch_hard_triplet_loss(y_true, y_pred, margin=self.margin)

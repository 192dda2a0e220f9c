"""NT-Xent: the temperature-scaled softmax loss of SimCLR, over a batch."""

import keras
from keras import ops

from siamesekit.losses.arguments import check_temperature
from siamesekit.losses.in_batch import InBatchLoss
from siamesekit.losses.in_batch_contrastive import pair_masks

# Stands in for minus infinity in the logits of an image paired with itself:
# finite, so that 0 * it stays 0 in float32.
_SELF_LOGIT = -1e9


def nt_xent_loss(identity_ids, embeddings, temperature=0.1):
    """Normalized temperature-scaled cross entropy over a batch of embeddings.

    Each image of the batch is an anchor; the softmax of its cosine
    similarities to every other image, divided by `temperature`, should put
    its mass on the images of its own identity. With `s` the cosine
    similarity and `P(i)` the other images of anchor `i`'s identity, anchor
    `i` costs

        -1/|P(i)| * sum over p in P(i) of log(exp(s_ip / t) / sum over j != i
        of exp(s_ij / t))

    and the loss is the mean over the anchors that have a positive. With two
    views per identity this is the NT-Xent loss of SimCLR; with more, the
    supervised contrastive loss of Khosla et al. Unlike a margin loss, every
    other image of the batch pushes, in proportion to how close it is: the
    hard negatives most, the easy ones hardly at all.

    Args:
        identity_ids: int tensor `(batch,)`, the identity of each image.
        embeddings: tensor `(batch, dim)`; L2-normalized here.
        temperature: positive float. Defaults to `0.1`.

    Returns:
        Scalar tensor.

    Reference:
        Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for
        Contrastive Learning of Visual Representations", ICML 2020; Khosla
        et al., "Supervised Contrastive Learning", NeurIPS 2020.
    """
    check_temperature(temperature)
    embeddings = ops.cast(embeddings, "float32")
    unit = embeddings / ops.maximum(ops.norm(embeddings, axis=-1, keepdims=True), 1e-12)
    positive, _ = pair_masks(identity_ids)
    size = ops.shape(unit)[0]
    not_self = 1.0 - ops.eye(size, dtype="float32")
    logits = ops.matmul(unit, ops.transpose(unit)) / temperature
    logits = logits * not_self + _SELF_LOGIT * (1.0 - not_self)
    log_probabilities = logits - ops.logsumexp(logits, axis=1, keepdims=True)
    positives = ops.sum(positive, axis=1)
    anchor_costs = -ops.sum(positive * log_probabilities, axis=1) / ops.maximum(
        positives, 1.0
    )
    has_positive = ops.cast(positives > 0, "float32")
    return ops.sum(anchor_costs * has_positive) / ops.maximum(
        ops.sum(has_positive), 1.0
    )


@keras.saving.register_keras_serializable(package="siamesekit")
class NTXentLoss(InBatchLoss):
    """NT-Xent loss: `y_true` identities, `y_pred` embeddings.

    For P x K batches (`siamesekit.data.identity_batch_dataset`) fed to a
    `siamesekit.SiameseModel`; with K = 2 views of unlabelled images it is
    the SimCLR objective that `train_duplicates_model` uses. See
    `nt_xent_loss`.

    Args:
        temperature: positive float; lower values weigh the hardest
            negatives more. Defaults to `0.1`.
        name: name of the loss. Defaults to `"nt_xent_loss"`.
        dtype: dtype of the loss computations. Defaults to `None`.

    Example:

    ```python
    model = siamesekit.SiameseModel(tower)
    model.compile("adam", loss=siamesekit.losses.NTXentLoss(temperature=0.1))
    ```
    """

    def __init__(self, temperature=0.1, name="nt_xent_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        check_temperature(temperature)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return nt_xent_loss(y_true, y_pred, temperature=self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}

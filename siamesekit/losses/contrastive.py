"""Contrastive loss of Hadsell, Chopra and LeCun (2006)."""

import keras
import numpy as np
from keras import ops

from siamesekit.errors import InvalidArgumentError
from siamesekit.losses.arguments import check_margin


def _check_labels(y_true):
    """Checks that labels are 0 or 1 when their values are known (not traced)."""
    if isinstance(y_true, (list, tuple, np.ndarray, int, float)):
        values = np.asarray(y_true)
        if values.size and not np.isin(values, (0, 1)).all():
            raise InvalidArgumentError(
                "Contrastive loss labels must be 1 (similar pair) or 0 "
                f"(dissimilar pair). Received: y_true={values.ravel()[:8]!r}"
            )


def contrastive_loss(y_true, y_pred, margin=1.0):
    """Per-pair contrastive loss.

    `y * d^2 + (1 - y) * max(margin - d, 0)^2`, where `d` is the Euclidean
    distance between the two embeddings of a pair.

    Labels follow the convention **y = 1 for a similar pair, y = 0 for a
    dissimilar pair**. (The keras.io Siamese example flipped this between
    versions; siamesekit keeps the convention of Hadsell et al.)

    Args:
        y_true: tensor of shape `(batch,)` or `(batch, 1)`, 1 for pairs that
            show the same thing and 0 for pairs that do not.
        y_pred: tensor of shape `(batch,)`: the Euclidean distance of each
            pair, as returned by `siamesekit.SiameseModel`.
        margin: positive float. Dissimilar pairs farther apart than `margin`
            cost nothing. Defaults to `1.0`.

    Returns:
        Tensor of shape `(batch,)`: the loss of each pair.

    Example:

    ```python
    # A similar pair at distance 0.5 costs 0.5^2 = 0.25; a dissimilar pair
    # at distance 0.25 costs (1 - 0.25)^2 = 0.5625.
    siamesekit.losses.contrastive_loss([1.0, 0.0], [0.5, 0.25])
    ```

    Reference:
        Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006.
    """
    check_margin(margin)
    _check_labels(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, "float32")
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
    positive_cost = ops.square(y_pred)
    negative_cost = ops.square(ops.maximum(margin - y_pred, 0.0))
    return y_true * positive_cost + (1.0 - y_true) * negative_cost


@keras.saving.register_keras_serializable(package="siamesekit")
class ContrastiveLoss(keras.losses.Loss):
    """Contrastive loss for pairs: pulls similar pairs together, pushes others apart.

    Computes `mean(y * d^2 + (1 - y) * max(margin - d, 0)^2)` over a batch of
    pairs, where `d` is the Euclidean distance between the two embeddings.

    Labels follow the convention **y = 1 for a similar pair, y = 0 for a
    dissimilar pair** (as in Hadsell et al. and the original siamesekit
    README). `y_pred` is the distance, which is what
    `siamesekit.SiameseModel` returns from `call`.

    Args:
        margin: positive float. Dissimilar pairs farther apart than `margin`
            cost nothing. Defaults to `1.0`.
        reduction: type of reduction over the batch, as for any Keras loss.
            Defaults to `"sum_over_batch_size"` (the mean).
        name: optional name of the loss instance. Defaults to
            `"contrastive_loss"`.
        dtype: dtype of the loss computations. Defaults to `None` (float32
            under a mixed precision policy too).

    Example:

    ```python
    model = siamesekit.create_siamese_model((32, 32, 1), backbone="small_cnn")
    model.compile(optimizer="adam", loss=siamesekit.ContrastiveLoss(margin=1.0))
    ```

    Reference:
        Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006.
    """

    def __init__(
        self,
        margin=1.0,
        reduction="sum_over_batch_size",
        name="contrastive_loss",
        dtype=None,
    ):
        check_margin(margin)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return contrastive_loss(y_true, y_pred, margin=self.margin)

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin})
        return config

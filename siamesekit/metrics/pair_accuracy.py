"""Accuracy of same/different decisions made by thresholding a distance."""

import keras
from keras import ops


def pair_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `distance < threshold` agrees with the label, else 0.0.

    Args:
        y_true: labels, 1 for similar pairs and 0 for dissimilar ones.
        y_pred: Euclidean distance of each pair.
        threshold: float, pairs closer than this are called similar.
            Defaults to `0.5`.

    Returns:
        Tensor of shape `(batch,)` with 1.0 for each correct decision.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.reshape(ops.cast(y_true, "float32"), ops.shape(y_pred))
    called_similar = ops.cast(y_pred < threshold, "float32")
    return ops.cast(ops.equal(called_similar, y_true), "float32")


@keras.saving.register_keras_serializable(package="siamesekit")
class PairAccuracy(keras.metrics.MeanMetricWrapper):
    """Share of pairs whose distance falls on the right side of `threshold`.

    Pairs with `distance < threshold` are called similar (label 1), the
    others dissimilar (label 0).

    Args:
        threshold: float, the decision threshold on the distance. Defaults to
            `0.5`.
        name: string name of the metric. Defaults to `"pair_accuracy"`.
        dtype: data type of the metric result.
    """

    def __init__(self, threshold=0.5, name="pair_accuracy", dtype=None):
        super().__init__(pair_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {"threshold": self.threshold, "name": self.name, "dtype": self.dtype}

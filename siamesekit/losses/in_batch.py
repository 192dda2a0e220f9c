"""The base class of losses computed over all images of an identity batch."""

import keras


class InBatchLoss(keras.losses.Loss):
    """A loss over every pair of a batch of labelled embeddings.

    `y_true` holds the identity number of each image and `y_pred` its
    embedding; the loss is one number for the whole batch. A
    `siamesekit.SiameseModel` fed with identity batches `(images,
    identity_ids)` needs a loss of this kind, and one fed with pair batches
    `((images_1, images_2), labels)` a pair loss such as
    `siamesekit.ContrastiveLoss`: the model tells the two apart by this
    class.

    Subclasses implement `call(identity_ids, embeddings)` and add their own
    parameters (a margin, a temperature) to `get_config`.

    Args:
        name: name of the loss.
        dtype: dtype of the loss computations. Defaults to `None`.
    """

    def __init__(self, name, dtype=None):
        # The loss is already one number per batch; Keras must not average it
        # over a batch axis it does not have.
        super().__init__(name=name, reduction="sum", dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

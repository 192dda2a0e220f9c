"""`EmbeddingWhitening`: decorrelates embedding dimensions, fitted after training."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from siamesekit.errors import InvalidArgumentError


@keras.saving.register_keras_serializable(package="siamesekit")
class EmbeddingWhitening(keras.layers.Layer):
    """Maps embeddings `x` to `(x - mean) @ matrix`, whitened by `adapt`.

    Metric learning on few identities leaves some embedding directions with
    much more spread than others, and those dominate every distance.
    Whitening with the covariance of the training embeddings gives each
    direction the same weight. The eigenvalues of the covariance `C` are
    regularized: `matrix` is `(C + regularization * max_eigenvalue(C) * I)`
    to the power -1/2, so directions the training images hardly use are not
    blown up.

    Until `adapt` is called the layer is the identity. Its statistics are
    non-trainable weights: they travel in `.keras` files.

    Args:
        regularization: float > 0, added to the eigenvalues as a fraction of
            the largest. Defaults to `0.01`.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    ```python
    whitening = siamesekit.layers.EmbeddingWhitening()
    whitening.adapt(training_embeddings)  # array (num_embeddings, dim)
    whitened = whitening(embeddings)
    ```
    """

    def __init__(self, regularization=0.01, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(regularization, (int, float)) or not regularization > 0:
            raise InvalidArgumentError(
                "`regularization` must be a positive number. Received: "
                f"regularization={regularization!r}"
            )
        self.regularization = float(regularization)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.mean = self.add_weight(
            shape=(dim,), initializer="zeros", trainable=False, name="mean"
        )
        self.matrix = self.add_weight(
            shape=(dim, dim), initializer="identity", trainable=False, name="matrix"
        )

    def adapt(self, embeddings):
        """Fits mean and whitening matrix to embeddings `(num, dim)`."""
        embeddings = np.asarray(embeddings, np.float64)
        if embeddings.ndim != 2 or len(embeddings) < 2:
            raise InvalidArgumentError(
                "`adapt` needs at least two embeddings in an array "
                f"(num_embeddings, dim). Received shape {embeddings.shape}."
            )
        if not np.isfinite(embeddings).all():
            raise InvalidArgumentError("`adapt` received NaN or infinite embeddings.")
        if not self.built:
            self.build(embeddings.shape)
        mean = embeddings.mean(axis=0)
        covariance = np.cov(embeddings - mean, rowvar=False)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        floor = self.regularization * max(float(eigenvalues.max()), 1e-12)
        scales = 1.0 / np.sqrt(np.maximum(eigenvalues, 0.0) + floor)
        self.mean.assign(mean.astype(np.float32))
        self.matrix.assign(
            ((eigenvectors * scales) @ eigenvectors.T).astype(np.float32)
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        return ops.matmul(inputs - self.mean, self.matrix)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["regularization"] = self.regularization
        return config

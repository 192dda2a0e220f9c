"""Training a Siamese tower on every pair inside P x K batches."""

import keras
from keras import ops

from siamesekit.errors import InvalidArgumentError
from siamesekit.losses.contrastive import ContrastiveLoss
from siamesekit.losses.in_batch_contrastive import (
    InBatchContrastiveLoss,
    pair_masks,
    pairwise_distances,
)
from siamesekit.metrics.pair_accuracy import pair_accuracy
from siamesekit.models.siamese_model import SiameseModel


@keras.saving.register_keras_serializable(package="siamesekit")
class InBatchPairModel(keras.Model):
    """Trains a Siamese tower on all pairs of each batch of labelled images.

    A `siamesekit.SiameseModel` fed with pairs runs the tower twice per pair.
    This model takes batches of single images with their identity numbers,
    typically P identities x K images from
    `siamesekit.data.identity_batch_dataset`, embeds each image once and
    scores all `N * (N - 1) / 2` pairs of the batch with
    `siamesekit.losses.InBatchContrastiveLoss`. The tower is shared: after
    training, `siamese_model()` returns a `SiameseModel` on the same weights
    for pair inference, evaluation and saving.

    Training and evaluation report the same metrics as `SiameseModel`,
    measured on all pairs of the batch: `loss`, `positive_distance`,
    `negative_distance`, `pair_accuracy` and `auc`.

    Args:
        tower: a `keras.layers.Layer` mapping images to embeddings, such as
            `siamesekit.EmbeddingTower` (best with `normalize=True`).
        margin: positive float, the margin of the default loss. Defaults to
            `1.0`.
        threshold: float, distance below which pairs count as similar for
            `pair_accuracy`. Defaults to `None`: `margin / 2`.
        **kwargs: base model keyword arguments, such as `name`.

    Example:

    ```python
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(32, 28, 1), weights=None,
        normalize=True,
    )
    trainer = siamesekit.training.InBatchPairModel(tower, margin=0.8)
    trainer.compile(optimizer="adam")
    trainer.fit(siamesekit.data.identity_batch_dataset(images, labels), epochs=20)
    model = trainer.siamese_model()  # a SiameseModel on the trained tower
    ```
    """

    def __init__(self, tower, margin=1.0, threshold=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(tower, keras.layers.Layer):
            raise InvalidArgumentError(
                "`tower` must be a keras Layer that maps images to embeddings. "
                f"Received: tower={tower!r}"
            )
        if not isinstance(margin, (int, float)) or not margin > 0:
            raise InvalidArgumentError(
                f"`margin` must be a positive number. Received: margin={margin!r}"
            )
        self.tower = tower
        self.margin = float(margin)
        self.threshold = self.margin / 2 if threshold is None else float(threshold)
        self.positive_distance_tracker = keras.metrics.Mean(name="positive_distance")
        self.negative_distance_tracker = keras.metrics.Mean(name="negative_distance")
        self.pair_accuracy_tracker = keras.metrics.Mean(name="pair_accuracy")
        self.auc_tracker = keras.metrics.AUC(name="auc")

    def build(self, input_shape):
        if not self.tower.built:
            self.tower.build(input_shape)

    def call(self, images, training=False):
        return ops.cast(self.tower(images, training=training), "float32")

    def compile(self, optimizer="adam", loss=None, **kwargs):
        """Configures training; the loss defaults to `InBatchContrastiveLoss`."""
        if loss is None:
            loss = InBatchContrastiveLoss(margin=self.margin)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _pair_metrics(self, loss, identity_ids, embeddings):
        distances = pairwise_distances(embeddings)
        positive, negative = pair_masks(identity_ids)
        size = ops.shape(distances)[0]
        # Each unordered pair once.
        upper = ops.triu(ops.ones((size, size), dtype="float32"), k=1)
        distances = ops.reshape(distances, (-1,))
        labels = ops.reshape(positive * upper, (-1,))
        weights = ops.reshape(upper, (-1,))
        negative_weights = ops.reshape(negative * upper, (-1,))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        self.positive_distance_tracker.update_state(distances, labels)
        self.negative_distance_tracker.update_state(distances, negative_weights)
        self.pair_accuracy_tracker.update_state(
            pair_accuracy(labels, distances, self.threshold), weights
        )
        self.auc_tracker.update_state(labels, ops.exp(-distances), weights)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        if keras.backend.backend() != "tensorflow":
            return super().train_step(data)
        import tensorflow as tf

        images, identity_ids, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            embeddings = self(images, training=True)
            loss = self.compute_loss(
                x=images, y=identity_ids, y_pred=embeddings, training=True
            )
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._pair_metrics(loss, identity_ids, embeddings)

    def test_step(self, data):
        if keras.backend.backend() != "tensorflow":
            return super().test_step(data)
        images, identity_ids, _ = keras.utils.unpack_x_y_sample_weight(data)
        embeddings = self(images, training=False)
        loss = self.compute_loss(
            x=images, y=identity_ids, y_pred=embeddings, training=False
        )
        return self._pair_metrics(loss, identity_ids, embeddings)

    def siamese_model(self, threshold=None):
        """A compiled `siamesekit.SiameseModel` sharing this model's tower.

        Args:
            threshold: float, its decision threshold. Defaults to `None`:
                this model's `threshold`.

        Returns:
            A `SiameseModel`, compiled with `ContrastiveLoss(margin)`, ready
            to `predict`, `evaluate`, fine-tune on pairs, or `save`.
        """
        model = SiameseModel(
            self.tower, threshold=self.threshold if threshold is None else threshold
        )
        image_shape = getattr(self.tower, "image_shape", None)
        if image_shape is not None:
            batch_shape = (None,) + tuple(image_shape)
            model.build((batch_shape, batch_shape))
        model.compile(optimizer="adam", loss=ContrastiveLoss(margin=self.margin))
        if model.built:
            # A saved file then holds a complete optimizer, which loads
            # without a "skipping variable loading" warning.
            model.optimizer.build(model.trainable_variables)
        return model

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tower": keras.layers.serialize(self.tower),
                "margin": self.margin,
                "threshold": self.threshold,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tower"] = keras.layers.deserialize(config["tower"])
        return cls(**config)

"""A Keras model that compares two images through one shared tower."""

import keras
from keras import ops

from siamesekit.distances import cosine_similarity, euclidean_distance
from siamesekit.errors import InvalidArgumentError
from siamesekit.losses.batch_hard_triplet import BatchHardTripletLoss
from siamesekit.losses.contrastive import ContrastiveLoss
from siamesekit.losses.in_batch import InBatchLoss
from siamesekit.losses.in_batch_contrastive import pair_masks, pairwise_distances
from siamesekit.metrics.pair_accuracy import pair_accuracy
from siamesekit.models.train_steps import BackendSteps

_PAIR_BATCHES = "pair batches `((images_1, images_2), labels)`"
_IDENTITY_BATCHES = (
    "identity batches `(images, identity_ids)` (siamesekit.data.identity_batch_dataset)"
)


def _is_pair(inputs):
    """Pairs are a tuple or list of two batches; anything else is one batch."""
    if isinstance(inputs, (tuple, list)):
        if len(inputs) != 2:
            raise InvalidArgumentError(
                "SiameseModel expects a pair of image batches `(images_1, "
                "images_2)` or one batch of images. Received: a "
                f"{type(inputs).__name__} of {len(inputs)} items"
            )
        return True
    return False


def _loss_name(loss):
    if isinstance(loss, str):
        return repr(loss)
    return getattr(loss, "__name__", None) or type(loss).__name__


def _default_threshold(loss):
    if isinstance(loss, BatchHardTripletLoss):
        # The triplet loss sets no absolute scale; on unit embeddings a
        # distance of 1 is a cosine similarity of 0.5.
        return 1.0
    return getattr(loss, "margin", 1.0) / 2.0


def _in_batch_pairs(identity_ids, embeddings, own_rows=None):
    """`(labels, distances, weights)` of each unordered pair of a batch, flat.

    With `own_rows` (a 0/1 mask of the batch's rows), only the pairs whose
    first image is an own row have weight: replicas that each own a slice of
    a gathered batch then count every pair once between them.
    """
    distances = pairwise_distances(embeddings)
    positive, _ = pair_masks(identity_ids)
    size = ops.shape(distances)[0]
    upper = ops.triu(ops.ones((size, size), dtype="float32"), k=1)
    weights = upper if own_rows is None else upper * own_rows[:, None]
    return (
        ops.reshape(positive * upper, (-1,)),
        ops.reshape(distances, (-1,)),
        ops.reshape(weights, (-1,)),
    )


@keras.saving.register_keras_serializable(package="siamesekit")
class SiameseModel(BackendSteps, keras.Model):
    """Siamese network: one shared tower embeds both images of each pair.

    `call((images_1, images_2))` returns the Euclidean distance between the
    two embeddings of each pair, shape `(batch,)`; `call(images)` returns
    the embeddings of one batch, so `predict(images)` embeds. Both images go
    through the same tower (one set of weights), one batch after the other,
    as in a plain functional Siamese model: on CPU, training ran about 10%
    faster than with one pass over the two batches concatenated
    (`small_cnn`, ORL faces). In training, BatchNormalization layers
    therefore see each side's batch statistics.

    `fit` and `evaluate` take either kind of batch, on the TensorFlow, JAX
    and PyTorch backends alike:

    - **pair batches** `((images_1, images_2), labels)`, where **label 1
      means a similar pair and 0 a dissimilar pair**, with a pair loss
      (`siamesekit.ContrastiveLoss`, the default of `compile()`, or any
      Keras loss of `(labels, distances)`); `sample_weight` weighs pairs;
    - **identity batches** `(images, identity_ids)`, typically P identities
      x K images from `siamesekit.data.identity_batch_dataset`, with an
      in-batch loss (`siamesekit.losses.BatchHardTripletLoss`,
      `InBatchContrastiveLoss` or `NTXentLoss`): each image is embedded
      once and all `N * (N - 1) / 2` pairs of the batch are scored.

    A loss that does not fit the batches raises `InvalidArgumentError`
    naming both. Besides `loss`, training and evaluation report, over the
    pairs of each batch:

    - `positive_distance`: mean distance of similar pairs,
    - `negative_distance`: mean distance of dissimilar pairs,
    - `pair_accuracy`: share of pairs on the right side of `threshold`,
    - `auc`: ROC AUC of the distance as a same/different score.

    Metrics given to `compile(metrics=...)` see the same pairs: labels 1/0
    as `y_true` and distances as `y_pred`.

    Args:
        tower: a `keras.layers.Layer` mapping a batch of images to a batch of
            embeddings, typically a `siamesekit.EmbeddingTower`.
        threshold: float, pairs closer than this are called similar. Defaults
            to `None`: set by `compile()` from its loss (half the margin of
            a contrastive loss, `1.0` for the batch-hard triplet loss), or
            `0.5`. Stored with the model, so a reloaded model keeps it.
        **kwargs: base model keyword arguments, such as `name`.

    Example:

    ```python
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(32, 32, 1), weights=None
    )
    model = siamesekit.SiameseModel(tower)
    model.compile(optimizer="adam")  # ContrastiveLoss(margin=1.0)
    model.fit((images_1, images_2), labels, epochs=5)
    distances = model.predict((images_1, images_2))

    # Or all pairs of P x K batches:
    model.compile(optimizer="adam", loss=siamesekit.losses.BatchHardTripletLoss())
    model.fit(siamesekit.data.identity_batch_dataset(images, identity_ids))
    ```
    """

    def __init__(self, tower, threshold=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(tower, keras.layers.Layer):
            raise InvalidArgumentError(
                "`tower` must be a keras Layer that maps images to embeddings, "
                f"such as siamesekit.EmbeddingTower. Received: tower={tower!r}"
            )
        if threshold is not None and not threshold > 0:
            raise InvalidArgumentError(
                f"`threshold` must be positive. Received: threshold={threshold!r}"
            )
        self.tower = tower
        self.threshold = None if threshold is None else float(threshold)
        self.positive_distance_tracker = keras.metrics.Mean(name="positive_distance")
        self.negative_distance_tracker = keras.metrics.Mean(name="negative_distance")
        self.pair_accuracy_tracker = keras.metrics.Mean(name="pair_accuracy")
        self.auc_tracker = keras.metrics.AUC(name="auc")

    def build(self, input_shape):
        # One shape is a tuple of sizes; a pair is a tuple of two shapes.
        if isinstance(input_shape[0], (tuple, list)):
            first_shape, second_shape = input_shape
            if tuple(first_shape)[1:] != tuple(second_shape)[1:]:
                raise InvalidArgumentError(
                    "Both images of a pair must have the same shape. "
                    f"Received: input_shape={input_shape}"
                )
        else:
            first_shape = input_shape
        if not self.tower.built:
            self.tower.build(first_shape)

    def embed(self, images, training=False):
        """Returns the embeddings of a batch of images, float32."""
        return ops.cast(self.tower(images, training=training), "float32")

    def embed_pair(self, inputs, training=False):
        """Embeds both images of each pair with the shared tower."""
        if not _is_pair(inputs):
            raise InvalidArgumentError(
                "`embed_pair` expects a pair of image batches `(images_1, "
                f"images_2)`. Received: inputs of type {type(inputs).__name__}"
            )
        first, second = inputs
        return self.embed(first, training), self.embed(second, training)

    def call(self, inputs, training=False):
        if not _is_pair(inputs):
            return self.embed(inputs, training)
        first, second = self.embed_pair(inputs, training=training)
        return euclidean_distance(first, second)

    def cosine_similarity(self, inputs):
        """Cosine similarity in [-1, 1] of each pair `(images_1, images_2)`."""
        first, second = self.embed_pair(inputs)
        return cosine_similarity(first, second)

    def compile(self, optimizer="adam", loss=None, **kwargs):
        """Configures training; the loss defaults to `ContrastiveLoss()`.

        Args are those of `keras.Model.compile`, with `optimizer` defaulting
        to `"adam"` and `loss` to `siamesekit.ContrastiveLoss()`. If the
        model has no `threshold` yet, it is set from the loss: half the
        margin of a contrastive loss, `1.0` for `BatchHardTripletLoss`.
        """
        if loss is None:
            loss = ContrastiveLoss()
        if self.threshold is None:
            self.threshold = _default_threshold(loss)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        # Our `compile` only fills in defaults, so the saved arguments can be
        # passed back to it unchanged.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # Shared by the train and test steps of every backend (train_steps/).

    def _loss_and_pairs(self, x, y, sample_weight, training):
        """The unscaled loss and `(labels, distances, weights)` of the pairs."""
        if _is_pair(x):
            distances = self(x, training=training)
            loss = self.compute_loss(
                x=x,
                y=y,
                y_pred=distances,
                sample_weight=sample_weight,
                training=training,
            )
            labels = ops.reshape(ops.cast(y, "float32"), (-1,))
            weights = (
                ops.ones_like(labels)
                if sample_weight is None
                else ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
            )
            return loss, (labels, distances, weights)
        if sample_weight is not None:
            raise InvalidArgumentError(
                "Identity batches `(images, identity_ids)` take no sample "
                "weights: the in-batch loss weighs the pairs it forms itself. "
                "Drop `sample_weight`, or train on weighted pair batches."
            )
        embeddings = self(x, training=training)
        # The loss sees the whole global batch on every engine (see the
        # backend steps): one device, JAX SPMD, or gathered replicas.
        embeddings, identity_ids, own_rows = self._gather_replicas(embeddings, y)
        loss = self.compute_loss(
            x=x, y=identity_ids, y_pred=embeddings, training=training
        )
        pairs = _in_batch_pairs(identity_ids, embeddings, own_rows)
        return self._replica_share(loss), pairs

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        # Keras also calls this to build the compiled loss, before any step.
        if x is not None:
            self._check_loss_fits(_is_pair(x))
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )

    def _check_loss_fits(self, pair_batch):
        loss = getattr(self, "loss", None)
        in_batch_loss = isinstance(loss, InBatchLoss)
        if pair_batch and in_batch_loss:
            raise InvalidArgumentError(
                f"The loss {_loss_name(loss)} is an in-batch loss: it needs "
                f"{_IDENTITY_BATCHES}, but the model received {_PAIR_BATCHES}. "
                "Compile with siamesekit.ContrastiveLoss() for pairs, or feed "
                "identity batches."
            )
        if not pair_batch and not in_batch_loss:
            raise InvalidArgumentError(
                f"The loss {_loss_name(loss)} scores {_PAIR_BATCHES}, but the "
                f"model received {_IDENTITY_BATCHES}. Compile with "
                "siamesekit.losses.BatchHardTripletLoss(), "
                "InBatchContrastiveLoss() or NTXentLoss() for identity "
                "batches, or feed pairs."
            )

    def _update_metrics(self, loss, pairs):
        """Updates the loss, the pair trackers and compiled metrics."""
        labels, distances, weights = (ops.stop_gradient(part) for part in pairs)
        for metric in self.metrics:
            if metric.name == "loss":
                # Weighted by the batch's pairs, as Keras weighs by samples.
                metric.update_state(
                    ops.stop_gradient(loss), sample_weight=ops.shape(labels)[0]
                )
        self.positive_distance_tracker.update_state(distances, labels * weights)
        self.negative_distance_tracker.update_state(distances, (1.0 - labels) * weights)
        threshold = self.threshold if self.threshold is not None else 0.5
        self.pair_accuracy_tracker.update_state(
            pair_accuracy(labels, distances, threshold), weights
        )
        # exp(-d) maps distances into (0, 1] in reverse order, as AUC needs.
        self.auc_tracker.update_state(labels, ops.exp(-distances), weights)
        return self.compute_metrics(None, labels, distances, weights)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tower": keras.layers.serialize(self.tower),
                "threshold": self.threshold,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tower"] = keras.layers.deserialize(config["tower"])
        return cls(**config)

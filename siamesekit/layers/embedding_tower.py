"""The shared tower that turns an image into an embedding."""

import contextlib
import contextvars

import keras
import numpy as np
from keras import ops

from siamesekit.dtype_policy import dtype_policy_scope
from siamesekit.errors import InvalidArgumentError
from siamesekit.layers.backbones import (
    batch_norm_layers,
    build_backbone,
    get_backbone_spec,
    set_trainable_layers,
)
from siamesekit.layers.whitening import EmbeddingWhitening

# ImageNet channel statistics used by the "caffe" and "torch" preprocessing.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
_TORCH_RGB_STD = (0.229, 0.224, 0.225)

_POOLINGS = ("flatten", "avg", "max")
# Momentum of the BatchNormalization layers of a backbone trained from random
# weights: Keras' 0.99 or 0.999 keeps the moving statistics near their
# initial values for hundreds of steps.
_FROM_SCRATCH_MOMENTUM = 0.9
_CALIBRATION_IMAGES = 8
# Set while `from_config` rebuilds a tower whose weights are loaded next.
_RESTORING = contextvars.ContextVar("siamesekit_restoring_tower", default=False)
_MAX_TEST_TIME_ZOOM = 2.0


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


def _check_test_time_zooms(test_time_zooms):
    """`None` or a tuple of zoom factors in (0, 2], as floats."""
    if test_time_zooms is None:
        return None
    try:
        zooms = tuple(float(zoom) for zoom in test_time_zooms)
    except (TypeError, ValueError):
        zooms = ()
    if not zooms or not all(0 < zoom <= _MAX_TEST_TIME_ZOOM for zoom in zooms):
        raise InvalidArgumentError(
            "`test_time_zooms` must be None or a non-empty list of zoom factors "
            f"in (0, {_MAX_TEST_TIME_ZOOM}], such as (0.9, 1.0, 1.1). "
            f"Received: test_time_zooms={test_time_zooms!r}"
        )
    return zooms


def _zoom(images, factor):
    """Zooms a float32 batch by `factor` about its centre, reflecting borders."""
    if factor == 1.0:
        return images
    height, width = images.shape[1], images.shape[2]
    inverse = 1.0 / factor
    # Maps each output pixel to the input pixel it shows.
    transform = [
        inverse,
        0.0,
        (width - 1) / 2 * (1.0 - inverse),
        0.0,
        inverse,
        (height - 1) / 2 * (1.0 - inverse),
        0.0,
        0.0,
    ]
    # One transform per image: only TensorFlow broadcasts a single one.
    transforms = ops.tile(
        ops.convert_to_tensor([transform], "float32"), (ops.shape(images)[0], 1)
    )
    return ops.image.affine_transform(images, transforms, fill_mode="reflect")


def _normalize_input_shape(input_shape, spec):
    try:
        shape = tuple(int(dim) for dim in input_shape)
    except (TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != 3 or min(shape) < 1:
        raise InvalidArgumentError(
            "`input_shape` must be (height, width, channels) with positive "
            f"sizes, without the batch axis. Received: input_shape={input_shape!r}"
        )
    height, width, channels = shape
    if channels not in (1, 3):
        raise InvalidArgumentError(
            "`input_shape` must have 1 (grey) or 3 (RGB) channels. "
            f"Received: input_shape={input_shape!r}"
        )
    if min(height, width) < spec.min_size:
        raise InvalidArgumentError(
            f"The '{spec.name}' backbone needs images of at least "
            f"{spec.min_size}x{spec.min_size} pixels. "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


@contextlib.contextmanager
def _restoring():
    token = _RESTORING.set(True)
    try:
        yield
    finally:
        _RESTORING.reset(token)


def _unit_length(x):
    return x / ops.sqrt(
        ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12)
    )


@keras.saving.register_keras_serializable(package="siamesekit")
class EmbeddingTower(keras.layers.Layer):
    """Maps an image to an embedding vector; one instance serves both inputs.

    backbone -> flatten or pooling -> `Dense(dense_units, relu)` ->
    `Dense(embedding_dim)` [-> standardization] [-> whitening, at inference]
    [-> L2 normalization]. The backbone's own preprocessing runs inside the
    tower, so callers pass raw pixels in [0, 255]. Grey images are repeated
    to three channels for RGB backbones. The embedding is always float32,
    also under a mixed precision policy.

    Args:
        backbone: string, the backbone name: `"vgg16"`, `"vgg19"`,
            `"resnet50"`, `"mobilenet_v2"`, `"efficientnet_b0"` (from
            `keras.applications`), or `"small_cnn"` (a three-stage CNN for
            small or grey images). Defaults to `"vgg16"`.
        input_shape: tuple `(height, width, channels)` of the images, with 1 or
            3 channels. Defaults to `(224, 224, 3)`.
        weights: `"imagenet"` (downloaded once by Keras into
            `~/.keras/models`, or read from there if already cached), `None`
            (random initialization), or the path to a weights file of the
            headless backbone. Defaults to `"imagenet"`.
        pooling: string, how the last feature map becomes a vector:
            `"flatten"`, `"avg"` or `"max"`. Defaults to `"flatten"`.
        dense_units: int, width of the hidden ReLU layer. Defaults to `128`.
        embedding_dim: int, size of the embedding. Defaults to `128`.
        normalize: bool, whether to L2-normalize embeddings to unit length.
            Defaults to `True`: distances then lie in [0, 2] for any tower,
            which suits the contrastive margin of 1.
        dropout: float in [0, 1), dropout rate before the embedding layer.
            Defaults to `0.0`.
        standardize: bool, whether to standardize each embedding dimension
            with batch normalization (batch statistics in training, moving
            ones at inference; no learned scale or offset) before the L2
            normalization. Centred embeddings spread over the whole sphere:
            trained with the batch-hard triplet loss, unstandardized ones can
            collapse into a narrow cone where every cosine similarity is
            near 1. The moving statistics (momentum 0.9) need a few dozen
            training steps to settle; after shorter trainings inference
            embeddings are not yet centred. Defaults to `None`: `True` for a
            backbone trained from random weights (`weights=None`), `False`
            with pretrained weights. Trained on 3,000 COIL-20 pairs (4
            epochs, Adam 1e-3), unseen objects got AUC 0.982 and 0.991 with
            it and 0.977 and 0.962 without (`small_cnn`, seeds 0 and 1); on
            a frozen VGG16 (random weights: ImageNet ones cannot be
            downloaded here) 0.943 and 0.968 with it, 0.979 and 0.969
            without (two draws of the pairs).
        test_time_zooms: list of zoom factors in (0, 2], or `None`. At
            inference (not in training) the embedding is the mean of the
            embeddings of the image zoomed by each factor about its centre
            (`1.0` is the image as it is; borders filled by reflection),
            re-normalized if `normalize`; each view costs one forward pass.
            Defaults to `None`: one view.
        test_time_flip: bool, whether inference also averages in the
            mirror image of every view. Defaults to `False`.
        whitening: float or `None`. A float adds an `EmbeddingWhitening`
            with that regularization before the L2 normalization, used at
            inference only and fitted after training by `adapt_whitening`
            (the identity until then). Defaults to `None`: no whitening.
        trainable_backbone_layers: int, how many of the backbone's last
            layers with weights are trained: `0` freezes the backbone, `-1`
            trains all of it. Defaults to `None`: frozen when pretrained
            weights are loaded, all trainable otherwise.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Note: `get_config()` describes the architecture only. A tower rebuilt
    with `from_config` starts from random weights; the weights themselves
    travel in `.keras` files and `save_weights`.

    Example:

    ```python
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(32, 32, 1), weights=None
    )
    embeddings = tower(np.zeros((2, 32, 32, 1)))  # shape (2, 128)
    ```
    """

    def __init__(
        self,
        backbone="vgg16",
        input_shape=(224, 224, 3),
        weights="imagenet",
        pooling="flatten",
        dense_units=128,
        embedding_dim=128,
        normalize=True,
        dropout=0.0,
        trainable_backbone_layers=None,
        standardize=None,
        test_time_zooms=None,
        test_time_flip=False,
        whitening=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        spec = get_backbone_spec(backbone)
        input_shape = _normalize_input_shape(input_shape, spec)
        if pooling not in _POOLINGS:
            raise InvalidArgumentError(
                f"`pooling` must be one of {_POOLINGS}. Received: pooling={pooling!r}"
            )
        _check_positive_int("dense_units", dense_units)
        _check_positive_int("embedding_dim", embedding_dim)
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise InvalidArgumentError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        if trainable_backbone_layers is None:
            trainable_backbone_layers = -1 if weights is None else 0
        if (
            isinstance(trainable_backbone_layers, bool)
            or not isinstance(trainable_backbone_layers, int)
            or trainable_backbone_layers < -1
        ):
            raise InvalidArgumentError(
                "`trainable_backbone_layers` must be -1 (all), 0 (frozen) or a "
                "positive number of layers. Received: "
                f"trainable_backbone_layers={trainable_backbone_layers!r}"
            )

        self.backbone_name = spec.name
        self.spec = spec
        self.image_shape = input_shape
        self.pooling = pooling
        self.dense_units = dense_units
        self.embedding_dim = embedding_dim
        self.normalize = bool(normalize)
        self.dropout = float(dropout)
        self.trainable_backbone_layers = trainable_backbone_layers
        if standardize is None:
            standardize = weights is None
        self.standardize = bool(standardize)
        self.test_time_zooms = _check_test_time_zooms(test_time_zooms)
        self.test_time_flip = bool(test_time_flip)

        # Grey images are fed to RGB backbones by repeating the channel.
        self.backbone_channels = spec.channels or input_shape[-1]
        backbone_shape = input_shape[:2] + (self.backbone_channels,)
        # The backbone's layers take the global policy; build them in ours.
        with dtype_policy_scope(self.dtype_policy):
            self.backbone = build_backbone(spec, backbone_shape, weights)
        set_trainable_layers(self.backbone, trainable_backbone_layers)
        if weights is None and spec.name != "small_cnn":
            for layer in batch_norm_layers(self.backbone):
                layer.momentum = _FROM_SCRATCH_MOMENTUM
            if not _RESTORING.get():
                self._calibrate_batch_norm_on_noise()

        if pooling == "flatten":
            self.pool = keras.layers.Flatten(dtype=self.dtype_policy, name="flatten")
        elif pooling == "avg":
            self.pool = keras.layers.GlobalAveragePooling2D(
                dtype=self.dtype_policy, name="avg_pool"
            )
        else:
            self.pool = keras.layers.GlobalMaxPooling2D(
                dtype=self.dtype_policy, name="max_pool"
            )
        self.hidden = keras.layers.Dense(
            dense_units, activation="relu", dtype=self.dtype_policy, name="hidden"
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        # The embedding is float32 so that distances are exact under mixed
        # precision.
        self.embedding = keras.layers.Dense(
            embedding_dim, dtype="float32", name="embedding"
        )
        self.standardization = None
        if self.standardize:
            # Momentum 0.9, as in small_cnn: short trainings otherwise end
            # with moving statistics far from the batch ones.
            self.standardization = keras.layers.BatchNormalization(
                momentum=0.9,
                center=False,
                scale=False,
                dtype="float32",
                name="standardization",
            )
        self.whitening = None
        if whitening is not None:
            self.whitening = EmbeddingWhitening(
                whitening, dtype="float32", name="whitening"
            )

    def _calibrate_batch_norm_on_noise(self):
        """Gives a random-weight backbone moving statistics of its own scale.

        Initial moving statistics (mean 0, variance 1) do not match the
        activations of random weights: through the dozens of
        BatchNormalization layers of MobileNetV2 or EfficientNet they shrink
        to about 1e-11 at inference, and every image gets the same
        embedding. One pass over a few noise images sets them to the batch
        statistics; training then moves them to those of the data.
        """
        noise = np.random.default_rng(0).uniform(
            0, 255, (_CALIBRATION_IMAGES,) + tuple(self.image_shape)
        )
        self.estimate_batch_norm_statistics(noise.astype(np.float32))

    def estimate_batch_norm_statistics(self, images):
        """Sets the backbone's BatchNormalization moving statistics from `images`.

        Each layer's moving mean and variance become the statistics of one
        batch of `images` (in training mode, shallow layers first). Useful
        after a short training from random weights, before inference.

        Args:
            images: array `(num_images, height, width, channels)`, 0-255, a
                few dozen images of the data.
        """
        layers = batch_norm_layers(self.backbone)
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.momentum = 0.0
        try:
            self.backbone(self.preprocess(images), training=True)
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise InvalidArgumentError(
                "EmbeddingTower expects a batch of images of shape "
                f"(batch, height, width, channels). Received: input_shape={input_shape}"
            )
        expected = self.image_shape
        received = tuple(input_shape[1:])
        if any(r is not None and r != e for r, e in zip(received, expected)):
            raise InvalidArgumentError(
                f"This tower was made for images of shape {expected}. Resize "
                "the images or make a tower with that `input_shape`. "
                f"Received: input_shape={input_shape}"
            )
        feature_shape = self.backbone.output_shape
        self.pool.build(feature_shape)
        pooled_shape = self.pool.compute_output_shape(feature_shape)
        self.hidden.build(pooled_shape)
        self.embedding.build(pooled_shape[:-1] + (self.dense_units,))
        if self.standardization is not None:
            self.standardization.build((None, self.embedding_dim))
        if self.whitening is not None:
            self.whitening.build((None, self.embedding_dim))

    @property
    def num_test_time_views(self) -> int:
        """How many views of each image inference averages (1: none)."""
        return len(self._view_zooms) * (2 if self.test_time_flip else 1)

    @property
    def _view_zooms(self) -> tuple[float, ...]:
        return self.test_time_zooms or (1.0,)

    def preprocess(self, images):
        """Turns raw 0-255 pixels into what the backbone expects."""
        images = ops.cast(images, self.compute_dtype)
        if ops.shape(images)[-1] == 1 and self.backbone_channels == 3:
            images = ops.repeat(images, 3, axis=-1)
        mode = self.spec.preprocessing
        if mode == "caffe":
            bgr = ops.flip(images, axis=-1)
            return bgr - ops.cast(_CAFFE_BGR_MEAN, self.compute_dtype)
        if mode == "torch":
            mean = ops.cast(_TORCH_RGB_MEAN, self.compute_dtype)
            std = ops.cast(_TORCH_RGB_STD, self.compute_dtype)
            return (images / 255.0 - mean) / std
        if mode == "tf":
            return images / 127.5 - 1.0
        if mode == "unit":
            return images / 255.0
        return images

    def head(self, feature_map, training=None):
        """Maps the backbone's last feature map to the embedding."""
        x = self._unwhitened_head(feature_map, training=training)
        if self.whitening is not None and not training:
            x = self.whitening(x)
        if self.normalize:
            x = _unit_length(x)
        return x

    def _unwhitened_head(self, feature_map, training=None):
        x = self.pool(feature_map)
        x = self.hidden(x)
        x = self.dropout_layer(x, training=training)
        x = self.embedding(x)
        if self.standardization is not None:
            x = self.standardization(x, training=training)
        return x

    def adapt_whitening(self, images, batch_size=64):
        """Fits the whitening to the embeddings of `images` and their views.

        Call it after training, with the training images (0-255, the
        tower's input shape): the whitening learns their covariance from
        every test-time view, as embedded before whitening and
        normalization.

        Args:
            images: array `(num_images, height, width, channels)`.
            batch_size: int, images per forward pass (each with all its
                views). Defaults to `64`.
        """
        if self.whitening is None:
            raise InvalidArgumentError(
                "This tower has no whitening; make it with whitening=0.01 "
                "(the regularization) to use adapt_whitening."
            )
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.image_shape):
            raise InvalidArgumentError(
                "`adapt_whitening` needs images of shape (num_images, "
                f"{', '.join(map(str, self.image_shape))}). Received shape "
                f"{images.shape}."
            )
        if not self.built:
            self.build((None,) + tuple(images.shape[1:]))
        embeddings = []
        for start in range(0, len(images), batch_size):
            # All views of the batch in one forward pass, as `_embed_views`.
            views = ops.concatenate(self._views(images[start : start + batch_size]), 0)
            features = self.backbone(self.preprocess(views), training=False)
            embedded = self._unwhitened_head(features, training=False)
            embeddings.append(ops.convert_to_numpy(embedded))
        self.whitening.adapt(np.concatenate(embeddings))

    def call(self, inputs, training=None):
        if training or self.num_test_time_views == 1:
            return self._embed(inputs, training=training)
        return self._embed_views(inputs)

    def _embed(self, inputs, training=None):
        features = self.backbone(self.preprocess(inputs), training=training)
        return self.head(features, training=training)

    def _embed_views(self, inputs):
        """Mean embedding of the test-time views, embedded in one batch."""
        views = self._views(inputs)
        embeddings = self._embed(ops.concatenate(views, axis=0), training=False)
        embeddings = ops.reshape(
            embeddings, (len(views), ops.shape(inputs)[0], self.embedding_dim)
        )
        mean = ops.mean(embeddings, axis=0)
        return _unit_length(mean) if self.normalize else mean

    def _views(self, inputs):
        """The test-time views of a batch: each zoom, then their mirrors."""
        images = ops.cast(inputs, "float32")
        views = [_zoom(images, zoom) for zoom in self._view_zooms]
        if self.test_time_flip:
            views += [ops.flip(view, axis=2) for view in views]
        return views

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": self.backbone_name,
                "input_shape": self.image_shape,
                "pooling": self.pooling,
                "dense_units": self.dense_units,
                "embedding_dim": self.embedding_dim,
                "normalize": self.normalize,
                "dropout": self.dropout,
                "trainable_backbone_layers": self.trainable_backbone_layers,
                "standardize": self.standardize,
                "test_time_zooms": self.test_time_zooms,
                "test_time_flip": self.test_time_flip,
                "whitening": self.whitening.regularization
                if self.whitening is not None
                else None,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Weights are restored by Keras after the layer is rebuilt; never
        # download or read them again on load, whatever the config says.
        config = dict(config)
        config["weights"] = None
        with _restoring():
            return cls(**config)

"""The convolutional backbones an `EmbeddingTower` can stand on.

Each entry says how to build the backbone, how raw 0-255 pixels are
preprocessed for it, where Keras caches its ImageNet weights, and which of its
layers give the multi-stage feature maps used for difference heatmaps.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import keras

from siamesekit.errors import InvalidArgumentError, WeightsUnavailableError


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """How to build and feed one backbone.

    Attributes:
        name: the name users pass, e.g. `"vgg16"`.
        build: `build(input_shape, weights)` returns a headless `keras.Model`.
        preprocessing: how raw 0-255 pixels are scaled: `"caffe"` (BGR, mean
            subtracted), `"torch"` (0-1, ImageNet mean and std), `"tf"`
            (-1 to 1), `"unit"` (0-1) or `"none"` (the model rescales itself).
        channels: number of input channels the backbone expects.
        min_size: smallest height and width it accepts.
        feature_layers: layer names whose outputs are the stages compared by
            the `"features"` heatmap, shallow to deep.
        weights_file: `weights_file(input_shape)` gives the file name Keras
            caches ImageNet weights under, or `None` if there are none.
    """

    name: str
    build: Callable[[tuple, object], keras.Model]
    preprocessing: str
    channels: int
    min_size: int
    feature_layers: tuple[str, ...]
    weights_file: Callable[[tuple], str] | None = None


def small_cnn(input_shape, weights=None):
    """A small three-stage CNN for small or grey images (no pretrained weights)."""
    if weights is not None:
        raise InvalidArgumentError(
            "The 'small_cnn' backbone has no pretrained weights; pass "
            f"weights=None. Received: weights={weights!r}"
        )
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for stage, filters in enumerate((32, 64, 128), start=1):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"block{stage}_conv"
        )(x)
        # Momentum 0.9 (not 0.99): short trainings on small data sets
        # otherwise end with moving statistics far from the batch ones.
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{stage}_bn")(x)
        x = keras.layers.Activation("relu", name=f"block{stage}_relu")(x)
        x = keras.layers.MaxPooling2D(name=f"block{stage}_pool")(x)
    return keras.Model(inputs, x, name="small_cnn")


def _application(constructor):
    def build(input_shape, weights):
        return constructor(include_top=False, weights=weights, input_shape=input_shape)

    return build


def _fixed_name(file_name):
    return lambda input_shape: file_name


def _mobilenet_v2_file(input_shape):
    rows = input_shape[0] if input_shape[0] in (96, 128, 160, 192, 224) else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"


_NOTOP_FILE = "{}_weights_tf_dim_ordering_tf_kernels_notop.h5"

BACKBONES = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="vgg16",
            build=_application(keras.applications.VGG16),
            preprocessing="caffe",
            channels=3,
            min_size=32,
            feature_layers=(
                "block1_conv2",
                "block2_conv2",
                "block3_conv3",
                "block4_conv3",
                "block5_conv3",
            ),
            weights_file=_fixed_name(_NOTOP_FILE.format("vgg16")),
        ),
        BackboneSpec(
            name="vgg19",
            build=_application(keras.applications.VGG19),
            preprocessing="caffe",
            channels=3,
            min_size=32,
            feature_layers=(
                "block1_conv2",
                "block2_conv2",
                "block3_conv4",
                "block4_conv4",
                "block5_conv4",
            ),
            weights_file=_fixed_name(_NOTOP_FILE.format("vgg19")),
        ),
        BackboneSpec(
            name="resnet50",
            build=_application(keras.applications.ResNet50),
            preprocessing="caffe",
            channels=3,
            min_size=32,
            feature_layers=(
                "conv1_relu",
                "conv2_block3_out",
                "conv3_block4_out",
                "conv4_block6_out",
                "conv5_block3_out",
            ),
            weights_file=_fixed_name(_NOTOP_FILE.format("resnet50")),
        ),
        BackboneSpec(
            name="mobilenet_v2",
            build=_application(keras.applications.MobileNetV2),
            preprocessing="tf",
            channels=3,
            min_size=32,
            feature_layers=("block_2_add", "block_5_add", "block_12_add", "out_relu"),
            weights_file=_mobilenet_v2_file,
        ),
        BackboneSpec(
            name="efficientnet_b0",
            build=_application(keras.applications.EfficientNetB0),
            preprocessing="none",
            channels=3,
            min_size=32,
            feature_layers=(
                "block2b_add",
                "block3b_add",
                "block5c_add",
                "top_activation",
            ),
            weights_file=_fixed_name("efficientnetb0_notop.h5"),
        ),
        BackboneSpec(
            name="small_cnn",
            build=small_cnn,
            preprocessing="unit",
            channels=0,  # any: grey stays grey, colour stays colour
            min_size=8,
            feature_layers=("block1_relu", "block2_relu", "block3_relu"),
        ),
    )
}


def _canonical(name):
    return (
        str(name).lower().replace("-", "_").replace("efficientnetb", "efficientnet_b")
    )


def get_backbone_spec(name: str) -> BackboneSpec:
    """Returns the `BackboneSpec` for `name` (case and `-`/`_` insensitive)."""
    spec = BACKBONES.get(_canonical(name))
    if spec is None:
        raise InvalidArgumentError(
            f"Unknown backbone. Choose one of {sorted(BACKBONES)}. "
            f"Received: backbone={name!r}"
        )
    return spec


def keras_cache_dir() -> str:
    """The folder where Keras caches downloaded model weights.

    `$KERAS_HOME/models` if `KERAS_HOME` is set, else `~/.keras/models`, read
    at call time so that a test or a user can point it elsewhere.
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "models")


def build_backbone(spec, backbone_shape, weights):
    """Builds the backbone, loading `weights` the way Keras does, offline-friendly."""
    if weights is None:
        return spec.build(backbone_shape, None)
    if weights == "imagenet":
        if spec.weights_file is None:
            raise InvalidArgumentError(
                f"The '{spec.name}' backbone has no ImageNet weights; pass "
                f"weights=None. Received: weights={weights!r}"
            )
        cached = os.path.join(keras_cache_dir(), spec.weights_file(backbone_shape))
        if os.path.isfile(cached):
            return spec.build(backbone_shape, cached)
        try:
            return spec.build(backbone_shape, "imagenet")
        except Exception as error:  # Keras raises a bare Exception on URL errors.
            if "fetch failure" not in str(error) and not isinstance(error, OSError):
                raise
            raise WeightsUnavailableError(
                f"Could not download the ImageNet weights of '{spec.name}' "
                f"({error}). This machine seems to be offline. Either pass "
                "weights=None to start from random weights, pass "
                "weights='/path/to/weights.h5' to load a local file, or copy "
                f"the Keras weights file to {cached}."
            ) from error
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise WeightsUnavailableError(
                "`weights` must be None, 'imagenet' or the path to an existing "
                f"weights file. Received: weights={weights!r} (no such file)"
            )
        if path.endswith(".keras"):
            raise InvalidArgumentError(
                "A `.keras` file holds a whole model; load it with "
                "`keras.models.load_model` or `siamesekit.Comparator.from_saved`. "
                f"Received: weights={weights!r}"
            )
        try:
            return spec.build(backbone_shape, path)
        except (ValueError, OSError) as error:
            raise WeightsUnavailableError(
                f"Could not load backbone weights from {path!r}: {error}. The "
                f"file must hold weights of a headless '{spec.name}' model for "
                f"input shape {backbone_shape}."
            ) from error
    raise InvalidArgumentError(
        "`weights` must be None, 'imagenet' or the path to a weights file. "
        f"Received: weights={weights!r}"
    )


def set_trainable_layers(backbone, trainable_backbone_layers):
    """Freezes all but the last `trainable_backbone_layers` layers with weights."""
    if trainable_backbone_layers == -1:
        return
    layers_with_weights = [layer for layer in backbone.layers if layer.weights]
    cut = len(layers_with_weights) - trainable_backbone_layers
    for index, layer in enumerate(layers_with_weights):
        layer.trainable = index >= cut


def batch_norm_layers(model):
    """The BatchNormalization layers of a functional `model`, in order."""
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]

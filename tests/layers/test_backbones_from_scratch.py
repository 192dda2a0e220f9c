"""Every backbone gives distinct embeddings with random weights (`weights=None`)."""

import cv2
import keras
import numpy as np
import pytest
import skimage.data

import siamesekit

# The two slowest to build run once: their BatchNormalization math is the
# same keras.ops as ResNet50's, which runs on every backend.
_ONCE = pytest.mark.backend_neutral
BACKBONES = [
    "vgg16",
    "vgg19",
    "resnet50",
    pytest.param("mobilenet_v2", marks=_ONCE),
    pytest.param("efficientnet_b0", marks=_ONCE),
    "small_cnn",
]


def two_photos(size=32):
    photos = [skimage.data.astronaut(), skimage.data.rocket()]
    return np.stack([cv2.resize(p, (size, size)) for p in photos]).astype("float32")


def relative_distance(tower, images):
    """Distance of the two embeddings over their mean norm, in inference mode."""
    first, second = keras.ops.convert_to_numpy(tower(images, training=False))
    return np.linalg.norm(first - second) / np.mean(
        [np.linalg.norm(first), np.linalg.norm(second)]
    )


@pytest.mark.parametrize("backbone", BACKBONES)
def test_random_weights_tell_photos_apart_before_and_after_training(backbone):
    images = two_photos()
    tower = siamesekit.EmbeddingTower(
        backbone=backbone,
        input_shape=(32, 32, 3),
        weights=None,
        normalize=False,
        standardize=False,
        dense_units=16,
        embedding_dim=8,
    )
    # Untrained BatchNormalization statistics used to shrink the feature
    # maps of MobileNetV2 and EfficientNet to ~1e-11 (distance ~1e-6).
    assert relative_distance(tower, images) > 0.05
    # What training does to the statistics: training-mode passes over the
    # data move them (momentum 0.9) from the noise towards the images.
    for _ in range(3):
        tower(images, training=True)
    assert relative_distance(tower, images) > 0.05


def test_estimated_statistics_are_those_of_the_images(rng):
    # small_cnn: the same BatchNormalization layers as MobileNetV2's, in a
    # backbone that builds in a second on every backend.
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(32, 32, 3), weights=None
    )
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    tower.estimate_batch_norm_statistics(images)
    first = tower.backbone.get_layer("block1_bn")
    conv = tower.backbone.get_layer("block1_conv")(tower.preprocess(images))
    conv = keras.ops.convert_to_numpy(conv)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.moving_mean),
        conv.mean(axis=(0, 1, 2)),
        rtol=1e-3,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.moving_variance),
        conv.var(axis=(0, 1, 2)),
        rtol=1e-3,
        atol=1e-5,
    )
    assert first.momentum == 0.9  # restored (0 while estimating)


def test_standardization_is_on_from_scratch_and_off_with_pretrained_weights(tmp_path):
    scratch = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(32, 32, 1), weights=None
    )
    assert scratch.standardize is True
    # A local weights file stands in for ImageNet weights (no download).
    weights = tmp_path / "vgg16_notop.weights.h5"
    keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    ).save_weights(weights)
    pretrained = siamesekit.EmbeddingTower(
        backbone="vgg16", input_shape=(32, 32, 3), weights=str(weights)
    )
    assert pretrained.standardize is False
    assert pretrained.trainable_backbone_layers == 0  # frozen, as before

import cv2
import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import InvalidArgumentError


def small_tower(**options):
    options = {
        "backbone": "small_cnn",
        "input_shape": (32, 32, 1),
        "weights": None,
        "dense_units": 8,
        "embedding_dim": 4,
        **options,
    }
    return siamesekit.EmbeddingTower(**options)


def images(rng, count=2, shape=(32, 32, 1)):
    return rng.uniform(0, 255, size=(count, *shape)).astype("float32")


def test_output_shape_and_dtype(rng):
    embeddings = small_tower()(images(rng, 3))
    assert tuple(embeddings.shape) == (3, 4)
    assert keras.backend.standardize_dtype(embeddings.dtype) == "float32"


def test_embedding_is_float32_under_mixed_precision(rng):
    tower = small_tower(dtype="mixed_bfloat16")
    embeddings = tower(images(rng))
    assert keras.backend.standardize_dtype(embeddings.dtype) == "float32"


@pytest.mark.parametrize(
    "global_policy, tower_policy",
    [("float32", "mixed_bfloat16"), ("mixed_float16", "float32")],
)
def test_backbone_follows_the_tower_dtype_not_the_global_one(
    global_policy, tower_policy
):
    keras.config.set_dtype_policy(global_policy)
    tower = siamesekit.EmbeddingTower(
        input_shape=(32, 32, 3), weights=None, dtype=tower_policy
    )
    assert {layer.dtype_policy.name for layer in tower.backbone.layers} == {
        tower_policy
    }
    assert keras.config.dtype_policy().name == global_policy


def test_normalize_gives_unit_vectors(rng):
    embeddings = small_tower(normalize=True)(images(rng, 4))
    norms = np.linalg.norm(keras.ops.convert_to_numpy(embeddings), axis=-1)
    np.testing.assert_allclose(norms, np.ones(4), rtol=1e-5)


def _standardized_and_plain_towers(pixels):
    tower = small_tower(standardize=True, normalize=False)
    plain = small_tower(standardize=False, normalize=False)
    tower(pixels)
    plain(pixels)
    plain.set_weights(tower.get_weights()[: len(plain.weights)])
    return tower, plain


def test_standardize_uses_batch_statistics_in_training(rng):
    pixels = images(rng, 16)
    tower, plain = _standardized_and_plain_towers(pixels)
    raw = keras.ops.convert_to_numpy(plain(pixels, training=True))
    epsilon = tower.standardization.epsilon
    expected = (raw - raw.mean(axis=0)) / np.sqrt(raw.var(axis=0) + epsilon)
    standardized = keras.ops.convert_to_numpy(tower(pixels, training=True))
    np.testing.assert_allclose(standardized, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(standardized.mean(axis=0), np.zeros(4), atol=1e-4)


def test_standardize_uses_the_moving_statistics_at_inference(rng):
    pixels = images(rng, 3)
    tower, plain = _standardized_and_plain_towers(pixels)
    mean, variance = rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)
    tower.standardization.moving_mean.assign(mean)
    tower.standardization.moving_variance.assign(variance)
    epsilon = tower.standardization.epsilon
    expected = (keras.ops.convert_to_numpy(plain(pixels)) - mean) / np.sqrt(
        variance + epsilon
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tower(pixels)), expected, rtol=1e-5, atol=1e-5
    )


def _zoomed_with_opencv(image, factor):
    height, width = image.shape[:2]
    inverse = 1.0 / factor
    output_to_input = np.array(
        [
            [inverse, 0.0, (width - 1) / 2 * (1 - inverse)],
            [0.0, inverse, (height - 1) / 2 * (1 - inverse)],
        ]
    )
    zoomed = cv2.warpAffine(
        image[..., 0],
        output_to_input,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    return zoomed[..., np.newaxis]


def test_test_time_views_average_zoomed_and_mirrored_embeddings(rng):
    views = small_tower(
        normalize=True, test_time_zooms=(0.8, 1.25), test_time_flip=True
    )
    single = small_tower(normalize=True)
    pixels = images(rng, 3)
    views(pixels)
    single(pixels)
    single.set_weights(views.get_weights())
    assert views.num_test_time_views == 4

    expected = []
    for image in pixels:
        zoomed = [_zoomed_with_opencv(image, factor) for factor in (0.8, 1.25)]
        batch = np.stack(zoomed + [view[:, ::-1] for view in zoomed])
        mean = keras.ops.convert_to_numpy(single(batch)).mean(axis=0)
        expected.append(mean / np.linalg.norm(mean))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(views(pixels)), expected, atol=1e-4
    )
    # Training sees each image once, as it is.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(views(pixels, training=True)),
        keras.ops.convert_to_numpy(single(pixels, training=True)),
        atol=1e-5,
    )


def test_vgg16_preprocessing_matches_keras_applications(rng):
    tower = siamesekit.EmbeddingTower(input_shape=(32, 32, 3), weights=None)
    pixels = images(rng, 2, (32, 32, 3))
    expected = keras.applications.vgg16.preprocess_input(pixels.copy())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tower.preprocess(pixels)), expected, atol=1e-4
    )


def test_grey_images_are_repeated_for_rgb_backbones(rng):
    grey = siamesekit.EmbeddingTower(input_shape=(32, 32, 1), weights=None)
    rgb = siamesekit.EmbeddingTower(input_shape=(32, 32, 3), weights=None)
    pixels = images(rng, 2, (32, 32, 1))
    grey(pixels)
    rgb(np.repeat(pixels, 3, axis=-1))
    rgb.set_weights(grey.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(grey(pixels)),
        keras.ops.convert_to_numpy(rgb(np.repeat(pixels, 3, axis=-1))),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("pooling", ["flatten", "avg", "max"])
def test_poolings(rng, pooling):
    assert tuple(small_tower(pooling=pooling)(images(rng)).shape) == (2, 4)


def test_trainable_backbone_layers():
    def trainable_layers(tower):
        return [
            layer.name
            for layer in tower.backbone.layers
            if layer.weights and layer.trainable
        ]

    with_weights = [
        layer.name for layer in small_tower().backbone.layers if layer.weights
    ]
    assert trainable_layers(small_tower(trainable_backbone_layers=-1)) == with_weights
    assert trainable_layers(small_tower(trainable_backbone_layers=0)) == []
    assert (
        trainable_layers(small_tower(trainable_backbone_layers=2)) == with_weights[-2:]
    )


def test_config_round_trip_gives_identical_outputs(rng):
    tower = small_tower(
        pooling="avg",
        normalize=True,
        dropout=0.1,
        standardize=True,
        test_time_zooms=(0.9, 1.0),
        test_time_flip=True,
    )
    pixels = images(rng)
    expected = keras.ops.convert_to_numpy(tower(pixels))
    restored = siamesekit.EmbeddingTower.from_config(tower.get_config())
    restored(pixels)
    restored.set_weights(tower.get_weights())
    assert restored.get_config() == tower.get_config()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(pixels)), expected)


def test_works_inside_a_functional_model_and_reloads_safely(rng, tmp_path):
    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, small_tower()(inputs))
    pixels = images(rng)
    path = tmp_path / "tower.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        restored.predict(pixels, verbose=0), model.predict(pixels, verbose=0)
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"backbone": "alexnet"}, "Unknown backbone"),
        ({"embedding_dim": 0}, "Received: embedding_dim=0"),
        ({"dense_units": -3}, "Received: dense_units=-3"),
        ({"pooling": "mean"}, "Received: pooling='mean'"),
        ({"input_shape": (32, 32)}, "Received: input_shape=\\(32, 32\\)"),
        ({"input_shape": (32, 32, 4)}, "1 \\(grey\\) or 3 \\(RGB\\) channels"),
        ({"input_shape": (4, 4, 1)}, "at least 8x8"),
        ({"dropout": 1.0}, "Received: dropout=1.0"),
        ({"trainable_backbone_layers": -2}, "trainable_backbone_layers=-2"),
        ({"test_time_zooms": ()}, "Received: test_time_zooms=\\(\\)"),
        ({"test_time_zooms": (1.0, 0.0)}, "in \\(0, 2.0\\]"),
        ({"test_time_zooms": "big"}, "Received: test_time_zooms='big'"),
    ],
)
def test_bad_arguments_give_clear_errors(options, message):
    with pytest.raises(InvalidArgumentError, match=message):
        small_tower(**options)


def test_vgg16_needs_32_pixels():
    with pytest.raises(InvalidArgumentError, match="'vgg16' backbone needs"):
        siamesekit.EmbeddingTower(input_shape=(16, 16, 3), weights=None)


def test_wrong_input_rank_is_rejected(rng):
    with pytest.raises(
        InvalidArgumentError, match="\\(batch, height, width, channels\\)"
    ):
        small_tower()(images(rng)[0])


def test_wrong_image_size_is_rejected(rng):
    with pytest.raises(InvalidArgumentError, match="made for images of shape"):
        small_tower()(images(rng, 2, (48, 48, 1)))

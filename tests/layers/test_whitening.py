import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import InvalidArgumentError
from siamesekit.layers import EmbeddingWhitening


def _embeddings_with_variances(variances, count, rng):
    """Centred samples whose sample covariance is exactly diag(variances)."""
    samples = rng.normal(size=(count, len(variances)))
    samples -= samples.mean(axis=0)
    # Orthonormal columns, still centred: sample covariance I / (count - 1).
    samples, _ = np.linalg.qr(samples)
    return samples * np.sqrt((count - 1) * np.asarray(variances)) + 5.0


def test_before_adapt_the_layer_is_the_identity(rng):
    x = rng.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(EmbeddingWhitening()(x)), x)


def test_adapt_whitens_the_embeddings_it_saw(rng):
    embeddings = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 3.0
    whitening = EmbeddingWhitening(regularization=1e-9)
    whitening.adapt(embeddings)
    whitened = keras.ops.convert_to_numpy(whitening(embeddings.astype("float32")))
    np.testing.assert_allclose(whitened.mean(axis=0), np.zeros(6), atol=1e-4)
    np.testing.assert_allclose(np.cov(whitened, rowvar=False), np.eye(6), atol=1e-3)


def test_regularization_shrinks_the_smallest_directions(rng):
    # Variances 4, 1 and 0.01, regularization 0.1 of the largest (0.4): each
    # direction keeps variance v / (v + 0.4).
    variances = np.array([4.0, 1.0, 0.01])
    embeddings = _embeddings_with_variances(variances, 200, rng)
    whitening = EmbeddingWhitening(regularization=0.1)
    whitening.adapt(embeddings)
    whitened = keras.ops.convert_to_numpy(whitening(embeddings.astype("float32")))
    np.testing.assert_allclose(
        np.cov(whitened, rowvar=False),
        np.diag(variances / (variances + 0.4)),
        atol=1e-4,
    )


@pytest.mark.parametrize("regularization", [0, -0.1, "0.01"])
def test_regularization_must_be_positive(regularization):
    with pytest.raises(InvalidArgumentError, match="regularization"):
        EmbeddingWhitening(regularization)


@pytest.mark.parametrize(
    "embeddings, message",
    [(np.zeros((1, 4)), "at least two"), (np.full((3, 2), np.nan), "NaN")],
)
def test_adapt_rejects_unusable_embeddings(embeddings, message):
    with pytest.raises(InvalidArgumentError, match=message):
        EmbeddingWhitening().adapt(embeddings)


def _whitened_tower(**options):
    options = {"normalize": False, "standardize": False, **options}
    return siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(16, 16, 1),
        weights=None,
        # Wide enough that some ReLU units are alive at initialization.
        dense_units=32,
        embedding_dim=4,
        whitening=1e-6,
        **options,
    )


def test_tower_whitens_at_inference_only_after_adapting(rng):
    tower = _whitened_tower()
    pixels = rng.uniform(0, 255, size=(40, 16, 16, 1)).astype("float32")
    trained_before = keras.ops.convert_to_numpy(tower(pixels, training=True))
    before = keras.ops.convert_to_numpy(tower(pixels))
    assert before.std(axis=0).min() > 1e-3
    tower.adapt_whitening(pixels, batch_size=16)
    after = keras.ops.convert_to_numpy(tower(pixels))
    trained_after = keras.ops.convert_to_numpy(tower(pixels, training=True))
    np.testing.assert_allclose(np.cov(after, rowvar=False), np.eye(4), atol=1e-3)
    # Training sees the embeddings the loss shaped, not whitened ones.
    np.testing.assert_allclose(trained_after, trained_before, rtol=1e-5, atol=1e-6)


def test_tower_adapts_on_all_test_time_views(rng):
    tower = _whitened_tower(normalize=True, test_time_zooms=(0.9, 1.1))
    tower.test_time_flip = True
    pixels = rng.uniform(0, 255, size=(20, 16, 16, 1)).astype("float32")
    tower.adapt_whitening(pixels)
    views = np.concatenate(
        [keras.ops.convert_to_numpy(v) for v in tower._views(pixels)]
    )
    features = tower.backbone(tower.preprocess(views), training=False)
    unwhitened = keras.ops.convert_to_numpy(tower._unwhitened_head(features))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tower.whitening.mean),
        unwhitened.mean(axis=0),
        rtol=1e-4,
        atol=1e-5,
    )


def test_whitened_tower_reloads_with_its_statistics(rng, tmp_path):
    tower = _whitened_tower(normalize=True)
    pixels = rng.uniform(0, 255, size=(30, 16, 16, 1)).astype("float32")
    tower.adapt_whitening(pixels)
    inputs = keras.Input((16, 16, 1))
    model = keras.Model(inputs, tower(inputs))
    path = tmp_path / "whitened.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert restored.layers[-1].get_config()["whitening"] == 1e-6
    np.testing.assert_allclose(
        restored.predict(pixels, verbose=0), model.predict(pixels, verbose=0)
    )


def test_comparator_copies_keep_the_whitening(rng):
    tower = _whitened_tower(normalize=True)
    pixels = rng.uniform(0, 255, size=(30, 16, 16, 1)).astype("float32")
    tower.adapt_whitening(pixels)
    comparator = siamesekit.Comparator(tower, precision="mixed_bfloat16")
    assert comparator.tower is not tower
    for copied, original in zip(
        comparator.tower.whitening.get_weights(), tower.whitening.get_weights()
    ):
        np.testing.assert_array_equal(copied, original)
    # The bfloat16 forward pass moves unit embeddings by up to 0.052 here
    # (PyTorch on CPU), amplified by a whitening regularized by only 1e-6.
    np.testing.assert_allclose(
        comparator.embed(pixels[:4]),
        keras.ops.convert_to_numpy(tower(pixels[:4])),
        atol=0.08,
    )


def test_adapt_whitening_needs_a_whitening_tower_and_its_image_shape():
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(16, 16, 1), weights=None
    )
    with pytest.raises(InvalidArgumentError, match="whitening=0.01"):
        tower.adapt_whitening(np.zeros((2, 16, 16, 1)))
    with pytest.raises(InvalidArgumentError, match=r"\(num_images, 16, 16, 1\)"):
        _whitened_tower().adapt_whitening(np.zeros((2, 8, 8, 1)))

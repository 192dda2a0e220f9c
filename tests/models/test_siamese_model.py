import keras
import numpy as np
import pytest
import tensorflow as tf

import siamesekit
from siamesekit.errors import InvalidArgumentError


def small_model(**options):
    options = {
        "backbone": "small_cnn",
        "weights": None,
        "dense_units": 8,
        "embedding_dim": 4,
        **options,
    }
    return siamesekit.create_siamese_model((32, 32, 1), **options)


def pair_batch(rng, count=4):
    first = rng.uniform(0, 255, size=(count, 32, 32, 1)).astype("float32")
    second = rng.uniform(0, 255, size=(count, 32, 32, 1)).astype("float32")
    labels = np.tile([1.0, 0.0], count // 2).astype("float32")
    return (first, second), labels


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def test_call_returns_euclidean_distance_of_tower_embeddings(rng):
    model = small_model()
    (first, second), _ = pair_batch(rng)
    distances = to_numpy(model((first, second)))
    squared = np.sum(
        np.square(to_numpy(model.tower(first)) - to_numpy(model.tower(second))), -1
    )
    # The distance is floored at 1e-6, so its gradient stays finite.
    expected = np.sqrt(np.maximum(squared, 1e-12))
    assert distances.shape == (4,)
    np.testing.assert_allclose(distances, expected, rtol=1e-5)


def test_cosine_similarity_of_pairs(rng):
    model = small_model()
    (first, second), _ = pair_batch(rng)
    a, b = to_numpy(model.embed(first)), to_numpy(model.embed(second))
    expected = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(
        to_numpy(model.cosine_similarity((first, second))), expected, rtol=1e-5
    )


def test_both_inputs_share_one_set_of_weights(rng):
    model = small_model()
    (first, second), labels = pair_batch(rng)
    assert len(model.weights) == len(model.tower.weights)
    np.testing.assert_allclose(
        to_numpy(model((first, second))), to_numpy(model((second, first))), rtol=1e-6
    )
    # A training step driven by the pair also moves what the second input sees.
    before = to_numpy(model.embed(second))
    model.fit((first, second), labels, epochs=1, verbose=0)
    assert not np.allclose(to_numpy(model.embed(second)), before)


# A parameter-free tower (flatten) makes every distance known in advance:
# pairs ((0, 0), x2) have distance |x2| = 0.5, 0.2, 1.0, 0.9.
FIRST = np.zeros((4, 2), dtype="float32")
SECOND = np.array([[0.3, 0.4], [0.0, 0.2], [0.6, 0.8], [0.0, 0.9]], "float32")
LABELS = np.array([1.0, 1.0, 0.0, 0.0], dtype="float32")


def test_metrics_match_hand_derivation():
    model = siamesekit.SiameseModel(keras.layers.Flatten())
    model.compile()
    results = model.evaluate((FIRST, SECOND), LABELS, verbose=0, return_dict=True)
    # Loss: mean(0.5^2, 0.2^2, 0, (1 - 0.9)^2) = (0.25 + 0.04 + 0.01) / 4.
    assert results["loss"] == pytest.approx(0.075, rel=1e-5)
    assert results["positive_distance"] == pytest.approx((0.5 + 0.2) / 2, rel=1e-5)
    assert results["negative_distance"] == pytest.approx((1.0 + 0.9) / 2, rel=1e-5)
    # Threshold 0.5 (margin / 2): only 0.5 is on the wrong side.
    assert model.threshold == 0.5
    assert results["pair_accuracy"] == pytest.approx(0.75)
    # Every similar pair is closer than every dissimilar one.
    assert results["auc"] == pytest.approx(1.0, abs=1e-3)


def test_sample_weight_reaches_loss_and_metrics():
    model = siamesekit.SiameseModel(keras.layers.Flatten())
    model.compile()
    weights = np.array([0.0, 1.0, 1.0, 0.0], dtype="float32")
    results = model.evaluate(
        (FIRST, SECOND), LABELS, sample_weight=weights, verbose=0, return_dict=True
    )
    assert results["loss"] == pytest.approx((0.04 + 0.0) / 4, rel=1e-5)
    assert results["positive_distance"] == pytest.approx(0.2, rel=1e-5)
    assert results["negative_distance"] == pytest.approx(1.0, rel=1e-5)
    assert results["pair_accuracy"] == pytest.approx(1.0)


def test_zero_sample_weights_leave_the_model_unchanged(rng):
    model = small_model()
    (first, second), labels = pair_batch(rng)
    before = [to_numpy(w) for w in model.tower.trainable_weights]
    model.fit((first, second), labels, sample_weight=np.zeros(4), verbose=0)
    for weight, old in zip(model.tower.trainable_weights, before):
        np.testing.assert_array_equal(to_numpy(weight), old)


def test_fit_on_dataset_with_validation_and_callbacks(rng):
    model = small_model()
    (first, second), labels = pair_batch(rng, 8)
    dataset = tf.data.Dataset.from_tensor_slices(((first, second), labels)).batch(4)
    epochs_seen = []
    callback = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs_seen.append(sorted(logs))
    )
    history = model.fit(
        dataset,
        validation_data=dataset,
        epochs=2,
        callbacks=[callback],
        shuffle=False,
        verbose=0,
    )
    names = ["auc", "loss", "negative_distance", "pair_accuracy", "positive_distance"]
    assert epochs_seen[-1] == sorted(names + [f"val_{name}" for name in names])
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["val_loss"]))


@pytest.mark.parametrize(
    "mode",
    [
        {"run_eagerly": True},
        {"jit_compile": False},
        pytest.param(
            {"jit_compile": True},
            marks=pytest.mark.skipif(
                keras.backend.backend() == "torch",
                reason="jit_compile on torch is torch.compile, whose C++ "
                "compilation takes minutes on CPU",
            ),
        ),
    ],
)
def test_one_sgd_step_is_the_same_in_eager_graph_and_xla(rng, mode):
    reference = small_model()
    (first, second), labels = pair_batch(rng)
    initial = reference.get_weights()
    reference.compile(optimizer=keras.optimizers.SGD(0.01), run_eagerly=True)
    reference.fit((first, second), labels, batch_size=4, shuffle=False, verbose=0)

    model = small_model()
    model.set_weights(initial)
    model.compile(optimizer=keras.optimizers.SGD(0.01), **mode)
    history = model.fit((first, second), labels, batch_size=4, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for weight, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(weight, expected, rtol=1e-4, atol=1e-5)


def test_mixed_float16_training_scales_the_loss(rng):
    keras.config.set_dtype_policy("mixed_float16")
    model = small_model()
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    (first, second), labels = pair_batch(rng)
    history = model.fit((first, second), labels, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert keras.backend.standardize_dtype(model((first, second)).dtype) == "float32"


def test_save_and_load_give_identical_outputs(rng, tmp_path):
    model = small_model(margin=2.0)
    (first, second), labels = pair_batch(rng)
    model.fit((first, second), labels, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)

    restored = keras.models.load_model(path, safe_mode=True)

    assert isinstance(restored, siamesekit.SiameseModel)
    assert restored.threshold == 1.0
    assert restored.loss.margin == 2.0
    np.testing.assert_array_equal(
        restored.predict((first, second), verbose=0),
        model.predict((first, second), verbose=0),
    )
    # The reloaded model keeps training without being compiled again.
    restored.fit((first, second), labels, verbose=0)


def test_config_round_trip_gives_identical_outputs(rng):
    model = small_model(normalize=True)
    (first, second), _ = pair_batch(rng)
    restored = siamesekit.SiameseModel.from_config(model.get_config())
    restored.build(((None, 32, 32, 1), (None, 32, 32, 1)))
    restored.set_weights(model.get_weights())
    np.testing.assert_array_equal(
        to_numpy(restored((first, second))), to_numpy(model((first, second)))
    )


def test_create_siamese_model_is_built_and_compiled():
    model = small_model(margin=3.0, threshold=0.7)
    assert model.built and model.compiled
    assert isinstance(model.loss, siamesekit.ContrastiveLoss)
    assert model.loss.margin == 3.0
    assert model.threshold == 0.7
    assert model.tower.image_shape == (32, 32, 1)


def test_threshold_defaults_to_half_the_margin():
    assert small_model(margin=3.0).threshold == 1.5


def test_bad_arguments_give_clear_errors(rng):
    with pytest.raises(InvalidArgumentError, match="`tower` must be a keras Layer"):
        siamesekit.SiameseModel("vgg16")
    with pytest.raises(InvalidArgumentError, match="threshold=-1"):
        siamesekit.SiameseModel(keras.layers.Flatten(), threshold=-1)
    images = pair_batch(rng)[0][0]
    with pytest.raises(InvalidArgumentError, match="pair of image batches"):
        small_model()((images, images, images))

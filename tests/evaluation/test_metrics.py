import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import DatasetError, InvalidArgumentError
from siamesekit.evaluation import evaluate_verification, verification_metrics
from siamesekit.evaluation.metrics import _pair_from_linear_index, all_pairs

# Tests marked backend_neutral are NumPy only and run once, under TensorFlow;
# the ones that embed with a model run on every backend.


@pytest.mark.backend_neutral
def test_metrics_of_a_hand_checked_example():
    # Sorted: 0.1 same, 0.35 different, 0.4 same, 0.8 different.
    # AUC: 3 of the 4 (same, different) pairs are ordered right.
    # Thresholds 0.225 and 0.6 both get 3 of 4 right; the first is kept.
    # ROC: (FPR, FNR) goes (0, .5) -> (.5, .5): equal at 0.5.
    result = verification_metrics([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0])
    assert result.auc == pytest.approx(0.75)
    assert result.accuracy == pytest.approx(0.75)
    assert result.threshold == pytest.approx(0.225)
    assert result.eer == pytest.approx(0.5)


@pytest.mark.backend_neutral
def test_eer_is_interpolated_between_roc_points():
    # A tie at 0.4 moves the ROC from (FPR 0, FNR .5) to (.5, 0) in one step;
    # the rates are equal halfway, at 0.25.
    result = verification_metrics([0.1, 0.4, 0.4, 0.9], [1, 1, 0, 0])
    assert result.eer == pytest.approx(0.25)


@pytest.mark.backend_neutral
def test_perfect_separation():
    result = verification_metrics([0.1, 0.2, 0.5, 0.7], [1, 1, 0, 0])
    assert (result.auc, result.eer, result.accuracy) == (1.0, 0.0, 1.0)
    assert result.threshold == pytest.approx(0.35)
    assert "ROC AUC 1.0000" in result.summary()


@pytest.mark.backend_neutral
def test_one_kind_of_pair_or_nan_distances_raise():
    with pytest.raises(DatasetError, match="only one kind"):
        verification_metrics([0.1, 0.2], [1, 1])
    with pytest.raises(DatasetError, match="NaN"):
        verification_metrics([0.1, np.nan], [1, 0])


class ValueEmbedder:
    """Embeds an image as its top-left pixel value: distance = |a - b|."""

    def embed(self, images):
        return np.asarray(images)[:, 0, 0, :1]


def test_evaluate_all_pairs_with_an_object_that_embeds():
    values = np.array([0.0, 1.0, 10.0, 12.0], np.float32)
    images = np.broadcast_to(values[:, None, None, None], (4, 3, 3, 1))
    result = evaluate_verification(ValueEmbedder(), images, ["a", "a", "b", "b"])
    # Same pairs at 1 and 2, different pairs at 9 to 12.
    assert result.num_pairs == 6 and result.num_positive == 2
    np.testing.assert_allclose(np.sort(result.distances), [1, 2, 9, 10, 11, 12])
    assert (result.auc, result.eer, result.accuracy) == (1.0, 0.0, 1.0)
    assert result.threshold == pytest.approx(5.5)
    assert not result.sampled


@pytest.mark.backend_neutral
def test_sampled_pairs_are_distinct_and_ordered():
    first, second, sampled = all_pairs(50, max_pairs=300, seed=0)
    assert sampled and len(first) == 300
    assert (first < second).all() and second.max() < 50
    assert len(set(zip(first.tolist(), second.tolist()))) == 300
    row, column = _pair_from_linear_index(np.arange(50 * 49 // 2), 50)
    expected_row, expected_column = np.triu_indices(50, k=1)
    np.testing.assert_array_equal(row, expected_row)
    np.testing.assert_array_equal(column, expected_column)


def test_threshold_agrees_with_the_model_and_the_comparator():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (12, 16, 16, 1)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 4)
    model = siamesekit.create_siamese_model(
        (16, 16, 1),
        backbone="small_cnn",
        weights=None,
        embedding_dim=8,
        dense_units=32,
    )
    result = evaluate_verification(model, images, labels, flip=False)
    assert np.ptp(result.distances) > 0
    # The model's own distances on the same pairs.
    distances = keras.ops.convert_to_numpy(
        model((images[result.first], images[result.second]))
    )
    np.testing.assert_allclose(result.distances, distances, rtol=1e-4, atol=1e-5)

    # The best threshold of random weights may call every pair one thing, so
    # check a threshold in the middle too.
    for threshold in (result.threshold, float(np.median(result.distances))):
        model.threshold = threshold
        comparator = siamesekit.Comparator(model, precision="float32")
        decisions = [
            comparator.compare(images[a], images[b], method=None).same
            for a, b in zip(result.first[:12], result.second[:12])
        ]
        np.testing.assert_array_equal(decisions, result.distances[:12] < threshold)


def test_flip_averages_unit_embeddings_and_keeps_them_unit_length():
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(8, 8, 1),
        weights=None,
        embedding_dim=4,
        dense_units=4,
        normalize=True,
    )
    images = np.random.default_rng(1).uniform(0, 255, (4, 8, 8, 1)).astype("float32")
    embeddings = siamesekit.evaluation.embed_images(tower, images, flip=True)
    to_numpy = keras.ops.convert_to_numpy
    expected = to_numpy(tower(images)) + to_numpy(tower(images[:, :, ::-1]))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


@pytest.mark.backend_neutral
def test_something_that_cannot_embed_is_rejected():
    with pytest.raises(InvalidArgumentError, match="embed"):
        evaluate_verification("model.keras", np.zeros((2, 4, 4, 1)), [0, 1])


@pytest.mark.backend_neutral
def test_counts_must_be_positive_integers():
    values = np.array([0.0, 1.0, 10.0, 12.0], np.float32)
    images = np.broadcast_to(values[:, None, None, None], (4, 3, 3, 1))
    labels = ["a", "a", "b", "b"]
    # Six pairs, all kept whatever integer type says so.
    result = evaluate_verification(
        ValueEmbedder(), images, labels, max_pairs=np.int64(6)
    )
    assert result.num_pairs == 6 and not result.sampled
    for arguments, message in (
        (
            {"max_pairs": 0},
            "`max_pairs` must be an integer >= 1 or None. Received: max_pairs=0",
        ),
        ({"max_pairs": 2.5}, "Received: max_pairs=2.5"),
        (
            {"batch_size": 0},
            "`batch_size` must be an integer >= 1. Received: batch_size=0",
        ),
        ({"seed": -1}, "`seed` must be an integer >= 0. Received: seed=-1"),
    ):
        with pytest.raises(InvalidArgumentError) as caught:
            evaluate_verification(ValueEmbedder(), images, labels, **arguments)
        assert str(caught.value).endswith(message)

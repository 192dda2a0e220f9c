import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import InvalidArgumentError

# Three pairs: similar at distance 0.5, dissimilar inside the margin at 0.25,
# dissimilar outside the margin at 1.5.
LABELS = np.array([1.0, 0.0, 0.0], dtype="float32")
DISTANCES = np.array([0.5, 0.25, 1.5], dtype="float32")
# By hand, margin 1: 0.5^2 = 0.25; (1 - 0.25)^2 = 0.5625; max(1 - 1.5, 0)^2 = 0.
PER_PAIR = np.array([0.25, 0.5625, 0.0], dtype="float32")


def test_per_pair_values_match_hand_derivation():
    values = siamesekit.contrastive_loss(LABELS, DISTANCES)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(values), PER_PAIR)


def test_margin_changes_only_dissimilar_pairs():
    values = siamesekit.contrastive_loss(LABELS, DISTANCES, margin=2.0)
    # 0.5^2 = 0.25; (2 - 0.25)^2 = 3.0625; (2 - 1.5)^2 = 0.25.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(values), [0.25, 3.0625, 0.25])


def test_loss_is_mean_over_pairs():
    loss = siamesekit.ContrastiveLoss()(LABELS, DISTANCES)
    np.testing.assert_allclose(float(loss), (0.25 + 0.5625 + 0.0) / 3, rtol=1e-6)


def test_column_labels_are_accepted():
    loss = siamesekit.ContrastiveLoss()(LABELS[:, None], DISTANCES)
    np.testing.assert_allclose(float(loss), (0.25 + 0.5625) / 3, rtol=1e-6)


def test_sample_weights_scale_each_pair():
    loss = siamesekit.ContrastiveLoss()(
        LABELS, DISTANCES, sample_weight=np.array([1.0, 2.0, 0.0])
    )
    # Keras' default reduction divides the weighted sum by the batch size.
    np.testing.assert_allclose(float(loss), (0.25 + 2 * 0.5625) / 3, rtol=1e-6)


def test_gradient_pulls_similar_together_and_pushes_dissimilar_apart():
    # Central differences of the summed loss, on every backend alike.
    step = 1e-3
    gradient = []
    for index in range(len(DISTANCES)):
        shift = np.zeros_like(DISTANCES)
        shift[index] = step
        up = siamesekit.contrastive_loss(LABELS, DISTANCES + shift)
        down = siamesekit.contrastive_loss(LABELS, DISTANCES - shift)
        difference = keras.ops.sum(up) - keras.ops.sum(down)
        gradient.append(float(keras.ops.convert_to_numpy(difference)) / (2 * step))
    # d/dd of d^2 is 2d; of (m - d)^2 inside the margin is -2(m - d).
    np.testing.assert_allclose(gradient, [1.0, -1.5, 0.0], atol=1e-3)


@pytest.mark.parametrize("margin", [0, -1, "1"])
def test_margin_must_be_positive(margin):
    with pytest.raises(InvalidArgumentError, match="Received: margin="):
        siamesekit.ContrastiveLoss(margin=margin)


def test_labels_other_than_zero_and_one_are_rejected():
    with pytest.raises(InvalidArgumentError, match="1 \\(similar pair\\)"):
        siamesekit.contrastive_loss(np.array([2.0, 0.0]), np.array([0.1, 0.2]))


def test_config_round_trip_keeps_margin():
    loss = siamesekit.ContrastiveLoss(margin=2.5, name="pairs")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, siamesekit.ContrastiveLoss)
    assert restored.margin == 2.5
    assert restored.name == "pairs"

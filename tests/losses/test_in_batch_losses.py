import keras
import numpy as np
import pytest

from siamesekit.errors import InvalidArgumentError
from siamesekit.losses import (
    BatchHardTripletLoss,
    InBatchContrastiveLoss,
    NTXentLoss,
    batch_hard_triplet_loss,
    in_batch_contrastive_loss,
    nt_xent_loss,
)

# One-dimensional embeddings: distances are differences.
POINTS = np.array([[0.0], [0.5], [2.0]], np.float32)
IDS = np.array([0, 0, 1])


def test_in_batch_contrastive_loss_by_hand():
    # The only same pair is at 0.5: 0.5^2 = 0.25. With margin 1 the
    # different pairs (2.0 and 1.5) are far enough and cost nothing.
    assert float(in_batch_contrastive_loss(IDS, POINTS, margin=1.0)) == (
        pytest.approx(0.25, abs=1e-5)
    )
    # With margin 2, only the pair at 1.5 violates it: (2 - 1.5)^2 = 0.25,
    # averaged over the violating pairs: 0.25 + 0.25.
    assert float(in_batch_contrastive_loss(IDS, POINTS, margin=2.0)) == (
        pytest.approx(0.5, abs=1e-5)
    )


def test_batch_hard_triplet_loss_by_hand():
    points = np.array([[0.0], [0.5], [2.0], [2.2], [5.0]], np.float32)
    ids = np.array([0, 0, 1, 1, 2])
    # Anchors 0-3 (anchor 4 has no positive and is left out):
    # 0: 0.5 - 2.0 + 1.2 < 0; 1: 0.5 - 1.5 + 1.2 = 0.2;
    # 2: 0.2 - 1.5 + 1.2 < 0; 3: 0.2 - 1.7 + 1.2 < 0. Mean: 0.2 / 4.
    loss = batch_hard_triplet_loss(ids, points, margin=1.2)
    assert float(loss) == pytest.approx(0.05, abs=1e-5)
    assert float(batch_hard_triplet_loss(ids, points, margin=0.3)) == pytest.approx(
        0.0, abs=1e-6
    )


@pytest.mark.parametrize(
    "loss, expected",
    [
        (InBatchContrastiveLoss(1.0), 0.25),
        (BatchHardTripletLoss(1.2), 0.1),
        (NTXentLoss(1.0), 0.5032),
    ],
)
def test_loss_classes_return_the_batch_loss_and_serialize(loss, expected):
    # Triplet, margin 1.2: anchor 1 costs 0.5 - 1.5 + 1.2 = 0.2, anchor 0
    # nothing, anchor 2 has no positive: 0.2 / 2. NT-Xent: see below.
    points = UNIT_POINTS if isinstance(loss, NTXentLoss) else POINTS
    assert float(loss(IDS, points)) == pytest.approx(expected, abs=1e-4)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()


# Unit vectors: a = (1, 0) and b = (0, 1) of identity 0, c = (-1, 0) of
# identity 1. Cosine similarities: a.b = 0, a.c = -1, b.c = 0.
UNIT_POINTS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)


def test_nt_xent_loss_by_hand():
    # Temperature 1. Anchor a: -log(e^0 / (e^0 + e^-1)) = log(1 + 1/e);
    # anchor b: -log(e^0 / (e^0 + e^0)) = log 2; anchor c has no positive
    # and is left out. The loss is their mean.
    expected = (np.log(1 + np.exp(-1)) + np.log(2)) / 2
    assert float(nt_xent_loss(IDS, UNIT_POINTS, temperature=1.0)) == pytest.approx(
        expected, abs=1e-5
    )
    # Temperature 0.5 doubles the logits: anchor a costs log(1 + e^-2).
    expected = (np.log(1 + np.exp(-2)) + np.log(2)) / 2
    assert float(nt_xent_loss(IDS, UNIT_POINTS, temperature=0.5)) == pytest.approx(
        expected, abs=1e-5
    )
    # Cosine similarity: the length of an embedding does not count.
    scaled = UNIT_POINTS * np.array([[3.0], [0.5], [7.0]], np.float32)
    assert float(nt_xent_loss(IDS, scaled, temperature=0.5)) == pytest.approx(
        expected, abs=1e-5
    )


def test_nt_xent_loss_with_several_positives_averages_them():
    # Anchor a = (1, 0) with positives b = (0, 1) and d = (1, 0), negative
    # c = (-1, 0), temperature 1: its denominator is e^0 + e^1 + e^-1, and
    # it costs the mean of -log(e^0 / den) and -log(e^1 / den).
    points = np.array([[1, 0], [0, 1], [-1, 0], [1, 0]], np.float32)
    ids = np.array([0, 0, 1, 0])
    den = 1 + np.e + np.exp(-1)
    anchor_a = (np.log(den) + np.log(den) - 1) / 2
    # b: similarities 0 (a), 0 (c), 0 (d): log 3 for each positive.
    anchor_b = np.log(3)
    # d is a twin of a.
    expected = (anchor_a + anchor_b + anchor_a) / 3
    assert float(nt_xent_loss(ids, points, temperature=1.0)) == pytest.approx(
        expected, abs=1e-5
    )


def test_bad_margin():
    with pytest.raises(InvalidArgumentError, match="margin"):
        BatchHardTripletLoss(margin=0)
    with pytest.raises(InvalidArgumentError, match="margin"):
        InBatchContrastiveLoss(margin=-1)
    for temperature in (0, -0.1, "0.1", True, None):
        with pytest.raises(InvalidArgumentError, match="temperature"):
            NTXentLoss(temperature=temperature)

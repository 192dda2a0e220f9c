import keras
import numpy as np
import pytest

from siamesekit.errors import InvalidArgumentError
from siamesekit.losses import (
    BatchHardTripletLoss,
    InBatchContrastiveLoss,
    batch_hard_triplet_loss,
    in_batch_contrastive_loss,
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
    [(InBatchContrastiveLoss(1.0), 0.25), (BatchHardTripletLoss(1.2), 0.1)],
)
def test_loss_classes_return_the_batch_loss_and_serialize(loss, expected):
    # Triplet, margin 1.2: anchor 1 costs 0.5 - 1.5 + 1.2 = 0.2, anchor 0
    # nothing, anchor 2 has no positive: 0.2 / 2.
    assert float(loss(IDS, POINTS)) == pytest.approx(expected, abs=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.margin == loss.margin


def test_bad_margin():
    with pytest.raises(InvalidArgumentError, match="margin"):
        BatchHardTripletLoss(margin=0)
    with pytest.raises(InvalidArgumentError, match="margin"):
        InBatchContrastiveLoss(margin=-1)

"""Retrieval metrics of a labelled gallery, checked against hand counts."""

import numpy as np
import pytest

from siamesekit.errors import InvalidArgumentError
from siamesekit.evaluation import retrieval_metrics
from siamesekit.search import Index

pytestmark = pytest.mark.backend_neutral


def _on_a_circle(degrees):
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def _gallery():
    # Angles and labels: a0 a1 a2 are at 0, 10, 20 degrees; b0 at 15 sits
    # among them, b1 at 100 alone.
    index = Index(dim=2)
    index.add_embeddings(
        _on_a_circle([0, 10, 20, 15, 100]), ["a0", "a1", "a2", "b0", "b1"]
    )
    return index, ["a", "a", "a", "b", "b"]


def test_metrics_match_a_hand_count():
    index, labels = _gallery()
    result = retrieval_metrics(index, labels, ks=(1, 2))
    # Nearest others, by angle:
    #   a0 (0):   a1 10, b0 15, a2 20, b1 100   -> relevant: 1 0 1 0, R = 2
    #   a1 (10):  b0 5, a0 10 / a2 10, b1 90    -> 0 1 1 0, R = 2
    #   a2 (20):  b0 5, a1 10, a0 20, b1 80     -> 0 1 1 0, R = 2
    #   b0 (15):  a1 5 / a2 5, a0 15, b1 85     -> 0 0 0 1, R = 1
    #   b1 (100): a2 80, b0 85, a1 90, a0 100   -> 0 1 0 0, R = 1
    # recall@1: only a0 has a match first -> 1/5; recall@2: a0 a1 a2 b1 -> 4/5.
    assert result.recall_at_k == pytest.approx({1: 1 / 5, 2: 4 / 5})
    # precision@2: a0 1/2, a1 1/2, a2 1/2, b0 0, b1 1/2 -> 2/5.
    assert result.precision_at_k == pytest.approx({1: 1 / 5, 2: 2 / 5})
    # AP@R over the first R: a0 (1/1)/2 = 1/2; a1 (1/2)/2 = 1/4; a2 1/4;
    # b0 and b1 (R = 1, first neighbour wrong) 0 -> (1/2 + 1/4 + 1/4) / 5.
    assert result.map_at_r == pytest.approx(1 / 5)
    assert result.num_queries == 5
    assert "mAP@R 0.200" in result.summary()


def test_perfect_embeddings_score_one():
    index = Index(dim=2)
    index.add_embeddings(_on_a_circle([0, 1, 2, 90, 91]), list("abcde"))
    result = retrieval_metrics(index, {"a": 0, "b": 0, "c": 0, "d": 1, "e": 1})
    assert result.map_at_r == 1.0 and result.recall_at_k[1] == 1.0
    # precision@5 of a query with 2 matches among 4 others: 2/5 at best.
    assert result.precision_at_k[5] == pytest.approx((2 / 5 * 3 + 1 / 5 * 2) / 5)


def test_labels_must_cover_the_index():
    index, labels = _gallery()
    with pytest.raises(InvalidArgumentError, match="one label per image"):
        retrieval_metrics(index, labels[:-1])
    with pytest.raises(InvalidArgumentError, match="'b1'"):
        retrieval_metrics(index, dict(zip(index.ids[:-1], labels)))
    with pytest.raises(InvalidArgumentError, match="two images of some label"):
        retrieval_metrics(index, list("vwxyz"))
    with pytest.raises(InvalidArgumentError, match="`ks`"):
        retrieval_metrics(index, labels, ks=(0,))

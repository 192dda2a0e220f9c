"""Retrieval metrics of a labelled gallery: recall@k, precision@k, mAP@R.

Each image of the gallery is a query in turn, searched among the others
(leave-one-out) with the index, a chunk of queries at a time: no N x N
matrix is ever made, so the metrics scale with the index.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Mapping, Sequence

import numpy as np

from siamesekit.arguments import check_integer
from siamesekit.errors import InvalidArgumentError
from siamesekit.search.index import Index

_QUERY_CHUNK = 1024


@dataclasses.dataclass(frozen=True)
class RetrievalResult:
    """Retrieval metrics, averaged over the queries that have a match.

    Attributes:
        recall_at_k: `{k: fraction of queries with at least one image of
            their label among their k nearest}` (the "Recall@K" of the
            metric learning literature).
        precision_at_k: `{k: mean fraction of the k nearest that share the
            query's label}`.
        map_at_r: mean average precision at R, where R is the number of
            other images of the query's label (Musgrave, Belongie, Lim, "A
            Metric Learning Reality Check", ECCV 2020): 1.0 when the R
            nearest are exactly the query's R matches, in any order of
            similarity.
        num_queries: queries averaged (those with at least one match).
    """

    recall_at_k: dict
    precision_at_k: dict
    map_at_r: float
    num_queries: int

    def summary(self) -> str:
        parts = [f"recall@{k} {v:.3f}" for k, v in self.recall_at_k.items()]
        parts += [f"precision@{k} {v:.3f}" for k, v in self.precision_at_k.items()]
        parts.append(f"mAP@R {self.map_at_r:.3f}")
        return f"{', '.join(parts)} over {self.num_queries} queries"

    def __str__(self) -> str:
        return self.summary()


def _labels_by_id(index: Index, labels) -> dict:
    if isinstance(labels, Mapping):
        missing = [image_id for image_id in index.ids if image_id not in labels]
        if missing:
            raise InvalidArgumentError(
                f"`labels` has no label for {len(missing)} id(s) of the index, "
                f"for example {missing[0]!r}."
            )
        return {image_id: labels[image_id] for image_id in index.ids}
    labels = list(labels)
    if len(labels) != len(index):
        raise InvalidArgumentError(
            "`labels` must have one label per image of the index, in the order "
            f"of index.ids ({len(index)}), or be a dict id -> label. Received "
            f"{len(labels)} labels."
        )
    return dict(zip(index.ids, labels))


def retrieval_metrics(
    index: Index, labels: Mapping | Sequence, ks: Sequence[int] = (1, 5, 10)
) -> RetrievalResult:
    """Leave-one-out retrieval metrics of a labelled gallery.

    Args:
        index: a `siamesekit.Index` holding the gallery.
        labels: a dict id -> label, or one label per id in the order of
            `index.ids`.
        ks: the k of recall@k and precision@k. Defaults to `(1, 5, 10)`.

    Returns:
        A `RetrievalResult`.

    Example:

    ```python
    index = siamesekit.Index(comparator)
    index.add(paths)
    siamesekit.evaluation.retrieval_metrics(index, labels).summary()
    ```
    """
    ks = sorted({check_integer("ks", k, minimum=1) for k in ks})
    if not ks:
        raise InvalidArgumentError("`ks` must hold at least one k >= 1.")
    label_of_id = _labels_by_id(index, labels)
    count_of_label = collections.Counter(label_of_id.values())
    largest_class = max(count_of_label.values(), default=1)
    # One more neighbour than needed: the query finds itself.
    k_search = min(max(ks[-1], largest_class - 1) + 1, len(index))
    hits_at = {k: 0 for k in ks}
    precision_sums = {k: 0.0 for k in ks}
    average_precision_sum, queries = 0.0, 0
    ids = index.ids
    for start in range(0, len(ids), _QUERY_CHUNK):
        chunk = ids[start : start + _QUERY_CHUNK]
        found = index.search_embeddings(index.embeddings_of(chunk), k_search)
        for query, neighbours in zip(chunk, found.ids):
            label = label_of_id[query]
            relevant_count = count_of_label[label] - 1
            if relevant_count == 0:
                continue
            queries += 1
            neighbours = [n for n in neighbours if n != query][: k_search - 1]
            relevant = np.array([label_of_id[n] == label for n in neighbours], bool)
            for k in ks:
                top = relevant[:k]
                hits_at[k] += bool(top.any())
                precision_sums[k] += top.sum() / k
            top_r = relevant[:relevant_count]
            precision_at_rank = np.cumsum(top_r) / np.arange(1, len(top_r) + 1)
            average_precision_sum += float(
                np.sum(precision_at_rank * top_r) / relevant_count
            )
    if not queries:
        raise InvalidArgumentError(
            "No label has two or more images, so no query has a match; "
            "retrieval metrics need at least two images of some label."
        )
    return RetrievalResult(
        recall_at_k={k: hits_at[k] / queries for k in ks},
        precision_at_k={k: precision_sums[k] / queries for k in ks},
        map_at_r=average_precision_sum / queries,
        num_queries=queries,
    )

"""`VectorStore`: unit vectors under int64 labels, in one FAISS index per kind.

The one place that knows FAISS: how each kind is built, trained, searched
and shrunk. `Index` above it deals in image ids and models.

- `"flat"`: `IndexIDMap2(IndexFlatIP)`, exact.
- `"ivf"`: `IndexIVFFlat` with a hash-table direct map (so vectors can be
  removed and read back), trained at the first search on the vectors held
  then; until then they wait in a flat index.
- `"hnsw"`: `IndexIDMap2(IndexHNSWFlat)`. A graph cannot drop nodes, so
  `remove` builds it again from the remaining vectors.
"""

from __future__ import annotations

import faiss
import numpy as np

KINDS = ("flat", "ivf", "hnsw")
# HNSW has no range search; a k-nearest search starts with this many and
# widens 4x until its farthest result falls below the threshold.
_FIRST_RANGE_K = 16


class VectorStore:
    """Unit vectors of one size under int64 labels, searched by inner product.

    Args:
        dim: int, the vector size.
        kind: `"flat"`, `"ivf"` or `"hnsw"`.
        nlist, nprobe, hnsw_m, ef_search: as in `siamesekit.Index`.
    """

    def __init__(self, dim, kind, *, nlist=None, nprobe=16, hnsw_m=32, ef_search=128):
        self.dim = dim
        self.kind = kind
        self.nlist = nlist
        self.nprobe = nprobe
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.trained = kind != "ivf"
        self._faiss = self._empty()

    def _empty(self):
        if self.kind == "hnsw":
            graph = faiss.IndexHNSWFlat(
                self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT
            )
            return faiss.IndexIDMap2(graph)
        # "flat", and "ivf" until it is trained.
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def __len__(self) -> int:
        return int(self._faiss.ntotal)

    # Changing -----------------------------------------------------------

    def add(self, unit: np.ndarray, labels: np.ndarray) -> None:
        self._faiss.add_with_ids(unit, labels)

    def remove(self, labels: np.ndarray, keep: np.ndarray) -> None:
        """Removes `labels`; `keep` are the labels that remain."""
        if self.kind != "hnsw":
            labels = np.ascontiguousarray(labels, np.int64)
            # The IVF direct map removes by an explicit array only.
            selector = faiss.IDSelectorArray(len(labels), faiss.swig_ptr(labels))
            self._faiss.remove_ids(selector)
            return
        vectors = self.vectors(keep)
        self._faiss = self._empty()
        if len(keep):
            self._faiss.add_with_ids(vectors, keep)

    def vectors(self, labels: np.ndarray) -> np.ndarray:
        """The stored vectors of some labels, float32 `(n, dim)`."""
        if not len(labels):
            return np.zeros((0, self.dim), np.float32)
        return self._faiss.reconstruct_batch(np.ascontiguousarray(labels, np.int64))

    def _train_ivf(self):
        """Moves the vectors into inverted lists trained on them."""
        count = len(self)
        nlist = self.nlist or int(4 * np.sqrt(count))
        # FAISS wants about 39 training points per list.
        nlist = max(1, min(nlist, count // 39))
        labels = faiss.vector_to_array(self._faiss.id_map).astype(np.int64)
        vectors = self._faiss.index.reconstruct_n(0, count)
        quantizer = faiss.IndexFlatIP(self.dim)
        lists = faiss.IndexIVFFlat(
            quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT
        )
        # Small galleries get fewer training points per list than FAISS
        # advises; that is expected here, not worth its warning.
        lists.cp.min_points_per_centroid = 1
        lists.train(vectors)
        lists.set_direct_map_type(faiss.DirectMap.Hashtable)
        lists.add_with_ids(vectors, labels)
        self._quantizer = quantizer  # FAISS does not own it; keep it alive.
        self._faiss = lists
        self.trained = True

    def _ready(self):
        if not self.trained and len(self):
            self._train_ivf()
        # Read at each search, so that `index.nprobe = 64` takes effect.
        if self.kind == "ivf" and self.trained:
            self._faiss.nprobe = self.nprobe
        elif self.kind == "hnsw":
            faiss.downcast_index(self._faiss.index).hnsw.efSearch = self.ef_search
        return self._faiss

    # Searching ----------------------------------------------------------

    def search(self, unit: np.ndarray, k: int):
        """`(scores, labels)`, each `(n, k)`; missing results have label -1."""
        return self._ready().search(unit, k)

    def range_search(self, unit: np.ndarray, min_similarity: float) -> list:
        """`(labels, scores)` per query row with scores >= `min_similarity`."""
        index = self._ready()
        if not len(self):
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(unit)
        if self.kind != "hnsw":
            # FAISS keeps results strictly above the radius.
            radius = np.nextafter(np.float32(min_similarity), np.float32(-np.inf))
            limits, scores, labels = index.range_search(unit, float(radius))
            return [
                (labels[limits[i] : limits[i + 1]], scores[limits[i] : limits[i + 1]])
                for i in range(len(unit))
            ]
        results = []
        for row in unit:
            k = _FIRST_RANGE_K
            while True:
                k = min(k, len(self))
                scores, labels = index.search(row[None], k)
                scores, labels = scores[0], labels[0]
                if k == len(self) or scores[-1] < min_similarity:
                    keep = (labels >= 0) & (scores >= min_similarity)
                    results.append((labels[keep], scores[keep]))
                    break
                k *= 4
        return results

    # Files --------------------------------------------------------------

    def settings(self) -> dict:
        return {
            "kind": self.kind,
            "dim": self.dim,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_search": self.ef_search,
            "trained": self.trained,
        }

    def serialize(self) -> np.ndarray:
        return faiss.serialize_index(self._faiss)

    @classmethod
    def deserialize(cls, data: np.ndarray, settings: dict) -> "VectorStore":
        settings = dict(settings)
        trained = settings.pop("trained")
        store = cls(settings.pop("dim"), settings.pop("kind"), **settings)
        store._faiss = faiss.deserialize_index(data)
        store.trained = trained
        return store

"""`Index`: a gallery of image embeddings to search, on FAISS."""

from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import faiss
import numpy as np

from siamesekit.arguments import check_integer, check_similarity
from siamesekit.comparator import Comparator
from siamesekit.errors import (
    IndexFileError,
    InvalidArgumentError,
    ModelMismatchError,
)
from siamesekit.search.content_hash import content_hash
from siamesekit.search.fingerprint import model_fingerprint
from siamesekit.search.index_file import read_index_file, write_index_file

KINDS = ("flat", "ivf", "hnsw")
# Queries searched at once: bounds the memory of the result arrays.
_QUERY_CHUNK = 4096


class SearchResult(NamedTuple):
    """Neighbours of each query, most similar first.

    Attributes:
        ids: list (one entry per query) of lists of gallery ids.
        similarities: list (one entry per query) of float32 arrays, the
            cosine similarity of each of those ids to the query.
    """

    ids: list
    similarities: list


class AddResult(NamedTuple):
    """What `Index.add` did with each image.

    Attributes:
        added: ids embedded and added.
        updated: ids already in the index whose content changed: embedded
            again and replaced.
        unchanged: ids already in the index with the same content: kept,
            not embedded again.
        skipped: `(id, reason)` for each image that could not be read.
    """

    added: list
    updated: list
    unchanged: list
    skipped: list


def _unit_rows(embeddings) -> np.ndarray:
    embeddings = np.asarray(embeddings, np.float32)
    if embeddings.ndim != 2:
        raise InvalidArgumentError(
            "`embeddings` must be a 2-D array (num_images, dim). "
            f"Received: shape {embeddings.shape}"
        )
    if not np.all(np.isfinite(embeddings)):
        raise InvalidArgumentError(
            "`embeddings` holds NaN or infinite values; the model that made "
            "them has diverged or was fed bad input."
        )
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return np.ascontiguousarray(embeddings / np.maximum(norms, 1e-12))


def _default_id(source, position: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    raise InvalidArgumentError(
        "Images given as bytes or arrays need ids: pass ids=[...] (one string "
        f"per image). Received an image of type {type(source).__name__} at "
        f"position {position} and ids=None."
    )


class Index:
    """A searchable gallery of image embeddings, on FAISS.

    Embeddings are stored unit-normalized, so inner products are cosine
    similarities. `kind="flat"` (the default) searches exactly. For large
    galleries, `"ivf"` (inverted lists, trained on the embeddings present at
    the first search; `nprobe` of them are visited) and `"hnsw"` (a graph;
    `ef_search` candidates) are faster and approximate: the README gives
    their recall measured on 1M embeddings.

    The index remembers a fingerprint of its model and refuses queries from
    any other, and keeps a content hash of each image, so that adding a
    folder again embeds only new and changed files and `find_duplicates` can
    find byte-identical copies for free.

    Args:
        comparator: a `siamesekit.Comparator` (or a SiameseModel or tower, for
            which one is made) that embeds images; `None` for an index of
            embeddings only (`add_embeddings`, `search_embeddings`). Defaults
            to `None`.
        kind: `"flat"`, `"ivf"` or `"hnsw"`. Defaults to `"flat"`.
        dim: embedding size, needed only without a comparator. Defaults to
            `None`.
        nlist: inverted lists for `"ivf"`; `None` picks `4 * sqrt(n)`, at most
            `n / 39`. Defaults to `None`.
        nprobe: lists visited per `"ivf"` query (an attribute: set it
            any time). Defaults to `16`.
        hnsw_m: graph degree for `"hnsw"`. Defaults to `32`.
        ef_search: candidates per `"hnsw"` query (an attribute too).
            Defaults to `128`.

    Example:

    ```python
    index = siamesekit.Index(siamesekit.Comparator(model))
    index.add(["gallery/1.jpg", "gallery/2.jpg"])
    result = index.search(["query.jpg"], k=5)
    result.ids[0], result.similarities[0]
    index.save("gallery.index")
    index = siamesekit.Index.load("gallery.index", comparator)
    ```
    """

    def __init__(
        self,
        comparator=None,
        *,
        kind: str = "flat",
        dim: int | None = None,
        nlist: int | None = None,
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_search: int = 128,
    ):
        if kind not in KINDS:
            raise InvalidArgumentError(
                f"`kind` must be one of {', '.join(KINDS)}. Received: kind={kind!r}"
            )
        if comparator is not None and not isinstance(comparator, Comparator):
            comparator = Comparator(comparator)
        self.comparator = comparator
        self.fingerprint = None
        # What built the model, as plain data, for tools that rebuild it to
        # search a saved index (the CLI records its --model path here).
        self.model_source = None
        if comparator is not None:
            self.fingerprint = model_fingerprint(comparator)
            model_dim = comparator.embedding_dim
            if dim is not None and check_integer("dim", dim, minimum=1) != model_dim:
                raise InvalidArgumentError(
                    f"`dim` must match the model's embedding size {model_dim}. "
                    f"Received: dim={dim!r}"
                )
            dim = model_dim
        if dim is None:
            raise InvalidArgumentError(
                "Pass a comparator, or dim= (the embedding size) for an index "
                "of embeddings only."
            )
        self.dim = check_integer("dim", dim, minimum=1)
        self.kind = kind
        self.nlist = check_integer("nlist", nlist, minimum=1, allow_none=True)
        self.nprobe = check_integer("nprobe", nprobe, minimum=1)
        self.hnsw_m = check_integer("hnsw_m", hnsw_m, minimum=2)
        self.ef_search = check_integer("ef_search", ef_search, minimum=1)
        self._label_of_id: dict[str, int] = {}
        self._id_of_label: dict[int, str] = {}
        self._hash_of_id: dict[str, str | None] = {}
        self._next_label = 0
        self._trained = kind != "ivf"
        self._faiss = self._empty_faiss_index()

    # FAISS --------------------------------------------------------------

    def _empty_faiss_index(self):
        if self.kind == "hnsw":
            graph = faiss.IndexHNSWFlat(
                self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT
            )
            graph.hnsw.efSearch = self.ef_search
            return faiss.IndexIDMap2(graph)
        # "flat", and "ivf" until it is trained.
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _train_ivf(self):
        """Moves the embeddings into inverted lists trained on them."""
        count = self._faiss.ntotal
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
        lists.nprobe = self.nprobe
        self._quantizer = quantizer  # FAISS does not own it; keep it alive.
        self._faiss = lists
        self._trained = True

    def _ready_faiss(self):
        if not self._trained and self._faiss.ntotal:
            self._train_ivf()
        # Read at each search, so that `index.nprobe = 64` takes effect.
        if self.kind == "ivf" and self._trained:
            self._faiss.nprobe = self.nprobe
        elif self.kind == "hnsw":
            faiss.downcast_index(self._faiss.index).hnsw.efSearch = self.ef_search
        return self._faiss

    def _remove_labels(self, labels: np.ndarray):
        if self.kind != "hnsw":
            labels = np.ascontiguousarray(labels, np.int64)
            # The IVF direct map removes by an explicit array only.
            selector = faiss.IDSelectorArray(len(labels), faiss.swig_ptr(labels))
            self._faiss.remove_ids(selector)
            return
        # An HNSW graph cannot drop nodes: build it again without them.
        keep = np.array(sorted(set(self._id_of_label) - set(labels.tolist())), np.int64)
        vectors = (
            np.stack([self._faiss.reconstruct(int(label)) for label in keep])
            if len(keep)
            else np.zeros((0, self.dim), np.float32)
        )
        self._faiss = self._empty_faiss_index()
        if len(keep):
            self._faiss.add_with_ids(vectors, keep)

    # Adding and removing ------------------------------------------------

    def __len__(self) -> int:
        return len(self._label_of_id)

    def __contains__(self, image_id) -> bool:
        return image_id in self._label_of_id

    @property
    def ids(self) -> list:
        """The ids in the index, in the order they were added."""
        return list(self._label_of_id)

    def content_hash_of(self, image_id: str) -> str | None:
        """The content hash recorded for an id (`None` for bare embeddings)."""
        return self._hash_of_id[image_id]

    def add(self, images, ids: Sequence[str] | None = None) -> AddResult:
        """Embeds images and adds them.

        Images already in the index under the same id with the same content
        are not embedded again; an id whose content changed is replaced.
        Images that cannot be read are skipped and listed in the result.

        Args:
            images: list of paths, encoded bytes or arrays, or an array batch.
            ids: one string per image. Defaults to `None`: the paths.

        Returns:
            An `AddResult`.
        """
        comparator = self._require_comparator("add")
        if isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview)):
            raise InvalidArgumentError(
                "`images` must be a list of images; for one image pass [image], "
                "for a folder siamesekit.data.list_image_files(folder). "
                f"Received: {type(images).__name__}"
            )
        images = list(images)
        if ids is None:
            ids = [_default_id(source, i) for i, source in enumerate(images)]
        ids = self._check_new_ids(ids, len(images))
        added, updated, unchanged, to_embed = [], [], [], []
        for source, image_id in zip(images, ids):
            digest = content_hash(source)
            if (
                image_id in self
                and digest is not None
                and self._hash_of_id[image_id] == digest
            ):
                unchanged.append(image_id)
                continue
            (updated if image_id in self else added).append(image_id)
            to_embed.append((source, image_id, digest))
        embedded = comparator.embed_readable([source for source, _, _ in to_embed])
        skipped = []
        for position, _, reason in embedded.skipped:
            image_id = to_embed[position][1]
            skipped.append((image_id, reason))
        skipped_ids = {image_id for image_id, _ in skipped}
        added = [i for i in added if i not in skipped_ids]
        updated = [i for i in updated if i not in skipped_ids]
        kept = [to_embed[position] for position in embedded.positions]
        self._insert(
            embedded.embeddings,
            [image_id for _, image_id, _ in kept],
            [digest for _, _, digest in kept],
        )
        return AddResult(added, updated, unchanged, skipped)

    def add_embeddings(self, embeddings, ids: Sequence[str]) -> None:
        """Adds embeddings made elsewhere (by this index's model).

        An id already in the index is replaced.

        Args:
            embeddings: float array `(n, dim)`.
            ids: one string per row.
        """
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise InvalidArgumentError(
                f"`embeddings` must have shape (n, {self.dim}). "
                f"Received: shape {embeddings.shape}"
            )
        ids = self._check_new_ids(ids, len(embeddings))
        self._insert(embeddings, ids, [None] * len(ids))

    def _check_new_ids(self, ids, count: int) -> list:
        if isinstance(ids, (str, bytes)):
            raise InvalidArgumentError(
                f"`ids` must be a list of strings, one per image. Received: ids={ids!r}"
            )
        ids = list(ids)
        if len(ids) != count:
            raise InvalidArgumentError(
                f"`ids` must have one entry per image: {count} images, {len(ids)} ids."
            )
        not_strings = [image_id for image_id in ids if type(image_id) is not str]
        if not_strings and not all(isinstance(i, str) for i in not_strings):
            image_id = next(i for i in not_strings if not isinstance(i, str))
            raise InvalidArgumentError(
                "Each id must be a string. "
                f"Received: {image_id!r} of type {type(image_id).__name__}"
            )
        if len(set(ids)) != len(ids):
            seen, repeated = set(), None
            for image_id in ids:
                if image_id in seen:
                    repeated = image_id
                    break
                seen.add(image_id)
            raise InvalidArgumentError(
                f"`ids` must be unique; {repeated!r} appears more than once."
            )
        return ids

    def _insert(self, embeddings, ids: list, hashes: list):
        if not ids:
            return
        unit = _unit_rows(embeddings)
        replaced = self._label_of_id.keys() & ids
        if replaced:
            self.remove([image_id for image_id in ids if image_id in replaced])
        labels = np.arange(
            self._next_label, self._next_label + len(ids), dtype=np.int64
        )
        self._next_label += len(ids)
        self._faiss.add_with_ids(unit, labels)
        # Bulk updates: a million ids take a second, not ten.
        labels = labels.tolist()
        self._label_of_id.update(zip(ids, labels))
        self._id_of_label.update(zip(labels, ids))
        self._hash_of_id.update(zip(ids, hashes))

    def remove(self, ids: Sequence[str]) -> int:
        """Removes ids; returns how many were removed.

        Raises:
            InvalidArgumentError: if an id is not in the index (nothing is
                removed then).
        """
        if isinstance(ids, str):
            ids = [ids]
        ids = list(dict.fromkeys(ids))
        missing = [image_id for image_id in ids if image_id not in self]
        if missing:
            raise InvalidArgumentError(
                f"{len(missing)} id(s) are not in the index, for example "
                f"{missing[0]!r}; nothing was removed."
            )
        if not ids:
            return 0
        labels = np.array([self._label_of_id[image_id] for image_id in ids], np.int64)
        self._remove_labels(labels)
        for image_id, label in zip(ids, labels.tolist()):
            del self._label_of_id[image_id]
            del self._id_of_label[label]
            del self._hash_of_id[image_id]
        return len(ids)

    # Searching ----------------------------------------------------------

    def _require_comparator(self, action: str) -> Comparator:
        if self.comparator is None:
            raise InvalidArgumentError(
                f"This index has no comparator to embed images, so it cannot "
                f"{action} images; pass one (Index(comparator) or "
                "Index.load(path, comparator)), or use the *_embeddings methods."
            )
        return self.comparator

    def _query_embeddings(self, queries) -> np.ndarray:
        comparator = self._require_comparator("search")
        return comparator.embed(queries)

    def _check_query_embeddings(self, embeddings) -> np.ndarray:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim == 1:
            embeddings = embeddings[None]
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise InvalidArgumentError(
                f"Query embeddings must have shape (n, {self.dim}). "
                f"Received: shape {embeddings.shape}"
            )
        return _unit_rows(embeddings)

    def search(self, queries, k: int = 10) -> SearchResult:
        """The `k` gallery images most similar to each query.

        Args:
            queries: list of images (paths, bytes, arrays) or an array batch.
            k: int, neighbours per query (fewer if the index holds fewer).
                Defaults to `10`.
        """
        k = check_integer("k", k, minimum=1)
        return self.search_embeddings(self._query_embeddings(queries), k)

    def search_embeddings(self, embeddings, k: int = 10) -> SearchResult:
        """As `search`, for query embeddings `(n, dim)` from this model."""
        k = check_integer("k", k, minimum=1)
        unit = self._check_query_embeddings(embeddings)
        index = self._ready_faiss()
        ids, similarities = [], []
        k = min(k, max(len(self), 1))
        for start in range(0, len(unit), _QUERY_CHUNK):
            scores, labels = index.search(unit[start : start + _QUERY_CHUNK], k)
            for row_scores, row_labels in zip(scores, labels):
                found = row_labels >= 0
                ids.append(
                    [self._id_of_label[int(label)] for label in row_labels[found]]
                )
                similarities.append(np.clip(row_scores[found], -1.0, 1.0))
        return SearchResult(ids, similarities)

    def range_search(self, queries, min_similarity: float) -> SearchResult:
        """Every gallery image at least `min_similarity` similar to each query.

        Args:
            queries: list of images or an array batch.
            min_similarity: float in [-1, 1].
        """
        min_similarity = check_similarity("min_similarity", min_similarity)
        return self.range_search_embeddings(
            self._query_embeddings(queries), min_similarity
        )

    def range_search_embeddings(
        self, embeddings, min_similarity: float
    ) -> SearchResult:
        """As `range_search`, for query embeddings `(n, dim)` from this model."""
        min_similarity = check_similarity("min_similarity", min_similarity)
        unit = self._check_query_embeddings(embeddings)
        ids, similarities = [], []
        for start in range(0, len(unit), _QUERY_CHUNK):
            chunk = unit[start : start + _QUERY_CHUNK]
            for labels, scores in self._range_labels(chunk, min_similarity):
                order = np.argsort(-scores, kind="stable")
                ids.append([self._id_of_label[int(label)] for label in labels[order]])
                similarities.append(np.clip(scores[order], -1.0, 1.0))
        return SearchResult(ids, similarities)

    def _range_labels(self, unit: np.ndarray, min_similarity: float):
        """`(labels, scores)` per query row of a chunk, unsorted."""
        index = self._ready_faiss()
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
        # HNSW has no range search: widen a k-nearest search until its last
        # neighbour falls below the threshold.
        results = []
        for row in unit:
            k = 16
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

    def embeddings_of(self, ids: Sequence[str]) -> np.ndarray:
        """The stored unit embeddings of some ids, float32 `(n, dim)`."""
        index = self._faiss
        return (
            np.stack([index.reconstruct(self._label_of_id[i]) for i in ids])
            if ids
            else np.zeros((0, self.dim), np.float32)
        )

    # Files --------------------------------------------------------------

    def save(self, path, overwrite: bool = False) -> str:
        """Saves the embeddings, ids, content hashes and model fingerprint.

        Args:
            path: file path, e.g. `"gallery.index"`.
            overwrite: replace an existing file. Defaults to `False`.

        Returns:
            The path written.
        """
        labels = np.array(list(self._id_of_label), np.int64)
        ids = [self._id_of_label[label] for label in labels.tolist()]
        meta = {
            "kind": self.kind,
            "dim": self.dim,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_search": self.ef_search,
            "trained": self._trained,
            "next_label": self._next_label,
            "fingerprint": self.fingerprint,
            "model_source": self.model_source,
            "hashes": [self._hash_of_id[image_id] for image_id in ids],
        }
        faiss_bytes = faiss.serialize_index(self._faiss)
        return write_index_file(path, faiss_bytes, labels, ids, meta, overwrite)

    @classmethod
    def load(cls, path, comparator=None) -> "Index":
        """Loads an index saved by `save`.

        Args:
            path: the index file.
            comparator: the `siamesekit.Comparator` (or model) to embed
                queries with; it must be the model the index was built with.
                Defaults to `None`: embeddings-only searches.

        Raises:
            IndexFileError: if the file is missing, truncated or corrupt.
            ModelMismatchError: if `comparator` is another model.
        """
        faiss_bytes, labels, ids, meta = read_index_file(path)
        index = cls(
            kind=meta["kind"],
            dim=meta["dim"],
            nlist=meta["nlist"],
            nprobe=meta["nprobe"],
            hnsw_m=meta["hnsw_m"],
            ef_search=meta["ef_search"],
        )
        index.fingerprint = meta["fingerprint"]
        index.model_source = meta["model_source"]
        if comparator is not None:
            index.attach(comparator)
        stored = faiss.deserialize_index(faiss_bytes)
        if stored.d != index.dim or stored.ntotal != len(ids):
            raise IndexFileError(
                f"{os.fspath(path)!r} is inconsistent: {stored.ntotal} vectors of "
                f"size {stored.d} for {len(ids)} ids of size {index.dim}."
            )
        index._faiss = stored
        index._trained = meta["trained"]
        index._next_label = meta["next_label"]
        for label, image_id, digest in zip(labels.tolist(), ids, meta["hashes"]):
            index._label_of_id[image_id] = label
            index._id_of_label[label] = image_id
            index._hash_of_id[image_id] = digest
        return index

    def attach(self, comparator) -> None:
        """Sets the comparator that embeds queries, after checking its model.

        Raises:
            ModelMismatchError: if it is not the model the index was built
                with.
        """
        if not isinstance(comparator, Comparator):
            comparator = Comparator(comparator)
        fingerprint = model_fingerprint(comparator)
        if self.fingerprint is not None and fingerprint != self.fingerprint:
            raise ModelMismatchError(
                "This index was built with another model (fingerprint "
                f"{self.fingerprint[:12]}, this one is {fingerprint[:12]}); its "
                "embeddings cannot be compared with this model's. Use the "
                "model the index was built with, or build the index again."
            )
        self.comparator = comparator
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"Index(kind={self.kind!r}, dim={self.dim}, size={len(self)})"

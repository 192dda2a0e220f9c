"""`find_duplicates`: groups of copies of the same image, without chaining.

Exact copies (byte-identical files) are found by content hash first, for
free. Near-duplicates are found by a range search on the index: one query per
distinct image, never an N x N matrix.

Grouping rule (star groups): a group is a representative and images each
within `min_similarity` of the representative itself. Connected components
of the "at least this similar" graph would chain: A~B and B~C would put A
and C in one group however different they are, and a long run of small
edits would merge a whole gallery. Star groups cannot chain. Representatives
are picked greedily: next is the image with the most near-duplicates not yet
in a group (ties in the order images were added), the centre most copies
resemble, so the groups come out few and large. Each image belongs to at
most one group; an image similar to a member but not to the representative
stays out of that group (it may head a group of its own).

Verification (`verify=True`): the range search only proposes pairs, and
each proposed pair joins the graph only if a `GeometricCheck` finds the one
image's pixels in the other, aligned by a similarity transform. Embeddings
are fast and see every pair; the pixel check is slow and sure, so it runs
only on the few pairs the embeddings propose, and a looser `min_similarity`
then loses fewer crops and rotations. Groups are formed from the confirmed
pairs by the same star rule.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import os

import numpy as np

from siamesekit.arguments import check_integer, check_similarity
from siamesekit.comparator import Comparator
from siamesekit.data.image_folder import list_image_files
from siamesekit.errors import DatasetError, InvalidArgumentError
from siamesekit.models.model_file import load_model_file
from siamesekit.search.geometric_check import GeometricCheck
from siamesekit.search.index import Index
from siamesekit.search.pair_verification import (
    check_verify,
    check_verify_below,
    confirmed_pairs,
    image_reader,
)

DEFAULT_MIN_SIMILARITY = 0.9
# Pairs of near-duplicates held at once: 12 bytes each, so ~240 MB at most.
DEFAULT_MAX_PAIRS = 20_000_000
_QUERY_CHUNK = 2048


@dataclasses.dataclass(frozen=True)
class DuplicateGroup:
    """Copies of one image.

    Attributes:
        ids: the ids in the group, the representative first, then the others
            from most to least similar to it.
        similarities: cosine similarity of each id to the representative
            (1.0 for the representative itself).
        exact: for each id, whether it is byte-identical to the
            representative.
    """

    ids: tuple
    similarities: tuple
    exact: tuple

    @property
    def representative(self) -> str:
        return self.ids[0]

    def __len__(self) -> int:
        return len(self.ids)


@dataclasses.dataclass(frozen=True)
class DuplicateReport:
    """What `find_duplicates` found.

    Attributes:
        groups: list of `DuplicateGroup`, largest first.
        skipped: `(id, reason)` for each image that could not be read.
        num_images: images searched (readable ones).
        min_similarity: the threshold used.
        verify: the `GeometricCheck` that confirmed each pair, or `None`.
        verify_below: pairs at least this similar were kept unchecked, or
            `None`.
    """

    groups: list
    skipped: list
    num_images: int
    min_similarity: float
    verify: GeometricCheck | None = None
    verify_below: float | None = None

    @property
    def num_duplicates(self) -> int:
        """Images that are a copy of a group's representative."""
        return sum(len(group) - 1 for group in self.groups)

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        return {
            "num_images": self.num_images,
            "min_similarity": self.min_similarity,
            "verify": None if self.verify is None else self.verify.get_config(),
            "verify_below": self.verify_below,
            "groups": [
                {
                    "representative": group.representative,
                    "members": [
                        {"id": i, "similarity": s, "exact": e}
                        for i, s, e in zip(group.ids, group.similarities, group.exact)
                    ],
                }
                for group in self.groups
            ],
            "skipped": [{"id": i, "reason": r} for i, r in self.skipped],
        }


def _comparator(comparator) -> Comparator:
    if comparator is None:
        raise InvalidArgumentError(
            "find_duplicates needs a model to embed images: pass comparator= (a "
            "siamesekit.Comparator, a SiameseModel or tower, or a .keras path), "
            "or pass an Index."
        )
    if isinstance(comparator, (str, os.PathLike)):
        return Comparator(load_model_file(comparator, compile=False))
    if not isinstance(comparator, Comparator):
        return Comparator(comparator)
    return comparator


def _exact_classes(index: Index) -> tuple[list, dict]:
    """The first id of each content, and the other ids with that content."""
    first_of_hash, copies = {}, collections.defaultdict(list)
    nodes = []
    for image_id in index.ids:
        digest = index.content_hash_of(image_id)
        if digest is None or digest not in first_of_hash:
            if digest is not None:
                first_of_hash[digest] = image_id
            nodes.append(image_id)
        else:
            copies[first_of_hash[digest]].append(image_id)
    return nodes, copies


def _neighbour_pairs(index: Index, nodes: list, min_similarity, max_pairs):
    """Arrays `(source, target, similarity)` of node positions, both ways."""
    position_of_id = {image_id: position for position, image_id in enumerate(nodes)}
    sources, targets, scores = [], [], []
    count = 0
    for start in range(0, len(nodes), _QUERY_CHUNK):
        chunk = nodes[start : start + _QUERY_CHUNK]
        found = index.range_search_embeddings(
            index.embeddings_of(chunk), min_similarity
        )
        for offset, (ids, similarities) in enumerate(zip(*found)):
            source = start + offset
            targets_here = [position_of_id.get(image_id, -1) for image_id in ids]
            targets_here = np.array(targets_here, np.int64)
            keep = (targets_here >= 0) & (targets_here != source)
            count += int(keep.sum())
            if count > max_pairs:
                raise InvalidArgumentError(
                    f"min_similarity={min_similarity} links more than "
                    f"{max_pairs:,} pairs of images, too many to group in "
                    "bounded memory; raise min_similarity (or max_pairs)."
                )
            sources.append(np.full(int(keep.sum()), source, np.int64))
            targets.append(targets_here[keep])
            scores.append(similarities[keep])
    if not sources:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float32)
    return np.concatenate(sources), np.concatenate(targets), np.concatenate(scores)


def group_duplicates(
    index: Index,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    verify: GeometricCheck | bool | None = None,
    verify_below: float | None = None,
    images=None,
) -> list:
    """Star groups of the images of an index (see the module docstring).

    Args:
        index: a `siamesekit.Index`.
        min_similarity: float in [-1, 1], the least cosine similarity of a
            member to its group's representative. Defaults to `0.9`.
        max_pairs: int, the most similar pairs held in memory before giving
            up with an error. Defaults to `20_000_000` (~240 MB).
        verify: `True` (a default `siamesekit.search.GeometricCheck`), a
            `GeometricCheck`, or `None` / `False` for none: each pair at least
            `min_similarity` similar is kept only if the check confirms it,
            with a progress bar of the pairs checked when the index's
            comparator shows one (its `progress`). Defaults to `None`.
        verify_below: float in [-1, 1], with `verify`: pairs at least this
            similar are kept without the check, where the embeddings alone
            are sure enough. Defaults to `None`: every pair is checked.
        images: with `verify`, a mapping from each id to its image (path,
            bytes or array). Defaults to `None`: the ids are the paths.

    Returns:
        A list of `DuplicateGroup`, largest first.
    """
    min_similarity = check_similarity("min_similarity", min_similarity)
    max_pairs = check_integer("max_pairs", max_pairs, minimum=1)
    check = check_verify(verify)
    verify_below = check_verify_below(verify_below, check)
    nodes, copies = _exact_classes(index)
    sources, targets, scores = _neighbour_pairs(index, nodes, min_similarity, max_pairs)
    if check is not None:
        read = image_reader(nodes, images)
        progress = getattr(index.comparator, "progress", "auto")
        keep = confirmed_pairs(
            sources, targets, scores, check, read, verify_below, progress
        )
        sources, targets, scores = sources[keep], targets[keep], scores[keep]
    order = np.lexsort((targets, sources))
    sources, targets, scores = sources[order], targets[order], scores[order]
    starts = np.searchsorted(sources, np.arange(len(nodes) + 1))
    assigned = np.zeros(len(nodes), bool)

    def unassigned_neighbours(node):
        neighbours = targets[starts[node] : starts[node + 1]]
        keep = ~assigned[neighbours]
        return neighbours[keep], scores[starts[node] : starts[node + 1]][keep]

    # Greedy cover: the next representative is the image with the most
    # near-duplicates not yet in a group. Counts only fall, so a stale count
    # popped from the heap is refreshed and pushed back (lazy greedy).
    heap = [(-int(starts[n + 1] - starts[n]), n) for n in range(len(nodes))]
    heapq.heapify(heap)
    groups = []
    while heap:
        negative_count, node = heapq.heappop(heap)
        if assigned[node]:
            continue
        neighbours, neighbour_scores = unassigned_neighbours(node)
        if len(neighbours) < -negative_count:
            heapq.heappush(heap, (-len(neighbours), node))
            continue
        assigned[node] = True
        assigned[neighbours] = True
        members = sorted(
            zip(neighbour_scores.tolist(), neighbours.tolist()),
            key=lambda member: -member[0],
        )
        representative = nodes[node]
        ids = [representative] + copies.get(representative, [])
        similarities = [1.0] * len(ids)
        exact = [False] + [True] * (len(ids) - 1)
        for score, target in members:
            member_ids = [nodes[target]] + copies.get(nodes[target], [])
            ids += member_ids
            similarities += [score] * len(member_ids)
            exact += [False] * len(member_ids)
        if len(ids) > 1:
            groups.append(DuplicateGroup(tuple(ids), tuple(similarities), tuple(exact)))
    groups.sort(key=lambda group: -len(group))
    return groups


def find_duplicates(
    images,
    comparator=None,
    *,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ids=None,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    verify: GeometricCheck | bool | None = None,
    verify_below: float | None = None,
) -> DuplicateReport:
    """Finds groups of exact and near-duplicate images.

    Nothing is moved or deleted: the report says which images are copies of
    which, and how similar.

    Args:
        images: a folder (searched with its subfolders), a list of images
            (paths, encoded bytes, arrays), or a `siamesekit.Index` already
            filled (then nothing is embedded).
        comparator: the model that embeds the images: a
            `siamesekit.Comparator`, a SiameseModel or tower, or a `.keras`
            path. Not needed with an `Index`. Defaults to `None`.
        min_similarity: float in [-1, 1], the least cosine similarity of a
            copy to its group's representative. What suits depends on the
            model: `siamesekit train --duplicates` models and the README's
            benchmark give a starting point. Defaults to `0.9`.
        ids: one string per image when `images` is a list of bytes or arrays.
            Defaults to `None`: the paths.
        max_pairs: int, see `group_duplicates`. Defaults to `20_000_000`.
        verify: `True` to confirm each pair the embeddings propose with a
            `siamesekit.search.GeometricCheck` (its pixels aligned by
            keypoints and correlated), or a `GeometricCheck` of your own;
            then a looser `min_similarity` (the README's benchmark: 0.52)
            finds crops and rotations that embeddings alone miss. With an
            `Index`, its ids must be the paths of the images. Defaults to
            `None`: embeddings only.
        verify_below: float in [-1, 1], with `verify`: pairs at least this
            similar are kept without the check (a threshold at which the
            embeddings alone are precise, as `min_similarity` would be
            without `verify`). Defaults to `None`: every pair is checked.

    Returns:
        A `DuplicateReport`.
    """
    min_similarity = check_similarity("min_similarity", min_similarity)
    check = check_verify(verify)
    verify_below = check_verify_below(verify_below, check)
    skipped, image_of_id = [], None
    if isinstance(images, Index):
        index = images
    else:
        if isinstance(images, (str, os.PathLike)):
            images = list_image_files(images)
        if not isinstance(images, (bytes, bytearray, memoryview, np.ndarray)):
            images = list(images)  # read twice: by the index and by the check
        index = Index(_comparator(comparator))
        skipped = index.add(images, ids=ids).skipped
        if ids is not None:
            image_of_id = dict(zip(ids, images))
        if not len(index):
            raise DatasetError(
                f"None of the {len(skipped)} images could be read, for example "
                f"{skipped[0][0]!r}: {skipped[0][1]}"
                if skipped
                else "`images` is empty: pass a folder or a list of images."
            )
    groups = group_duplicates(
        index,
        min_similarity,
        max_pairs=max_pairs,
        verify=check,
        verify_below=verify_below,
        images=image_of_id,
    )
    return DuplicateReport(
        groups, skipped, len(index), min_similarity, check, verify_below
    )

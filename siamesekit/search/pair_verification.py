"""Confirming the pairs that embeddings propose, with a `GeometricCheck`.

`find_duplicates(..., verify=...)` and `group_duplicates` hand their
proposed pairs here; what comes back is which pairs to keep. Each pair is
checked once, and the keypoints of recently seen images are kept, so that an
image proposed with many others is read and described once.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from siamesekit.arguments import check_similarity
from siamesekit.errors import InvalidArgumentError
from siamesekit.progress import progress_bar
from siamesekit.search.geometric_check import GeometricCheck

# Images whose keypoints are kept while pairs are verified: ~0.2 MB each.
_FEATURES_CACHED = 512


def check_verify(verify) -> GeometricCheck | None:
    """`verify=` of `find_duplicates`: `None`/`False`, `True` or a check."""
    if verify is None or verify is False:
        return None
    if verify is True:
        return GeometricCheck()
    if isinstance(verify, GeometricCheck):
        return verify
    raise InvalidArgumentError(
        "`verify` must be True, False, None or a "
        f"siamesekit.search.GeometricCheck. Received: verify={verify!r}"
    )


def image_reader(nodes: list, image_of_id):
    """A function from node position to its image; ids are paths if no map."""
    if image_of_id is not None:
        return lambda node: image_of_id[nodes[node]]
    for image_id in nodes:
        if not os.path.isfile(image_id):
            raise InvalidArgumentError(
                "verify= checks the pixels of each proposed pair, read again "
                f"by id, and the id {image_id!r} is not an image file. Pass the "
                "images themselves (a folder or a list) to find_duplicates, or "
                "`images=` to group_duplicates."
            )
    return lambda node: nodes[node]


def confirmed_pairs(
    sources, targets, scores, check: GeometricCheck, read, verify_below, progress
) -> np.ndarray:
    """Which `(source, target)` pairs to keep: those at least `verify_below`
    similar, and those the check confirms. Each pair is checked once, its
    smaller node first; `progress` (True, False, "auto": over 256 pairs)
    shows a progress bar of the pairs checked."""
    if not len(sources):
        return np.zeros(0, bool)
    first, second = np.minimum(sources, targets), np.maximum(sources, targets)
    pairs, inverse = np.unique(
        np.stack([first, second], axis=1), axis=0, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    # Both directions of a pair carry the same similarity up to rounding;
    # the larger decides, so that a pair is kept or dropped both ways.
    pair_scores = np.full(len(pairs), -np.inf, np.float32)
    np.maximum.at(pair_scores, inverse, scores)
    keep = np.zeros(len(pairs), bool)
    if verify_below is not None:
        keep = pair_scores >= verify_below

    @functools.lru_cache(maxsize=_FEATURES_CACHED)
    def features(node):
        return check.features(read(node))

    to_check = np.flatnonzero(~keep).tolist()
    bar = progress_bar(len(to_check), progress, unit_name="pair")
    for done, position in enumerate(to_check, start=1):
        a, b = pairs[position].tolist()
        keep[position] = check.match(features(a), features(b)).matched
        if bar is not None:
            bar.update(done)
    return keep[inverse]


def check_verify_below(verify_below, check):
    if verify_below is None:
        return None
    if check is None:
        raise InvalidArgumentError(
            "`verify_below` says which pairs skip the check of `verify`, and "
            f"verify is not set. Received: verify_below={verify_below!r}"
        )
    return check_similarity("verify_below", verify_below)

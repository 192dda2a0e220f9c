"""Checking labelled images and grouping them by identity."""

from __future__ import annotations

import dataclasses

import numpy as np

from siamesekit.errors import DatasetError


@dataclasses.dataclass(frozen=True)
class Identities:
    """Images grouped by identity (person, object, class).

    Attributes:
        names: the distinct labels, sorted; identity `k` is `names[k]`.
        ids: int array `(num_images,)`, the identity number of each image.
        members: list of int arrays; `members[k]` holds the indices of the
            images of identity `k`.
    """

    names: np.ndarray
    ids: np.ndarray
    members: list

    @property
    def num_identities(self) -> int:
        return len(self.names)

    @property
    def with_pairs(self) -> np.ndarray:
        """Identity numbers that have at least two images (a positive pair)."""
        return np.array(
            [k for k, indices in enumerate(self.members) if len(indices) >= 2],
            dtype=np.int64,
        )


def check_images(images, *, name: str = "images") -> np.ndarray:
    """Returns `images` as an array `(num_images, height, width, channels)`."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DatasetError(
            f"`{name}` must be an array of shape (num_images, height, width, "
            f"channels) with 1 or 3 channels. Received: {name} of shape "
            f"{images.shape}"
        )
    if not (
        np.issubdtype(images.dtype, np.integer)
        or np.issubdtype(images.dtype, np.floating)
    ):
        raise DatasetError(
            f"`{name}` must hold numeric pixels in [0, 255]. Received: dtype "
            f"{images.dtype}"
        )
    return images


def group_identities(labels, *, num_images: int | None = None) -> Identities:
    """Groups image indices by label.

    Args:
        labels: sequence of hashable labels (ints or strings), one per image.
        num_images: if given, the number of images the labels must match.

    Returns:
        An `Identities`.

    Raises:
        DatasetError: if there are no labels, the count does not match
            `num_images`, or the labels are not one-dimensional.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DatasetError(
            "`labels` must be one label per image, a 1-D sequence. Received: "
            f"labels of shape {labels.shape}"
        )
    if num_images is not None and len(labels) != num_images:
        raise DatasetError(
            f"There must be one label per image: got {num_images} images and "
            f"{len(labels)} labels."
        )
    if len(labels) == 0:
        raise DatasetError("The dataset is empty: there are no images to pair.")
    names, ids = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(ids == k) for k in range(len(names))]
    return Identities(names=names, ids=ids.astype(np.int64), members=members)


def check_pairable(identities: Identities, *, augmented: bool = False) -> None:
    """Raises `DatasetError` unless both positive and negative pairs exist.

    Args:
        identities: an `Identities`.
        augmented: bool, whether every image is drawn as several augmented
            views, which pair with each other: then an identity with a
            single image has similar pairs too. Defaults to `False`.
    """
    if identities.num_identities < 2:
        raise DatasetError(
            "Pairs need at least two identities (for dissimilar pairs); all "
            f"images have the label {identities.names[0]!r}. Add images of "
            "other identities."
        )
    if not augmented and len(identities.with_pairs) == 0:
        raise DatasetError(
            "Every identity has a single image, so there is no similar pair "
            f"to learn from ({identities.num_identities} identities). Add at "
            "least two images to some identities."
        )

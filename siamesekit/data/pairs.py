"""`tf.data` pipelines of balanced image pairs for `SiameseModel.fit`."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

from siamesekit.data.augmentation import Augmentation, resolve_augmentation
from siamesekit.data.identities import check_images, check_pairable, group_identities
from siamesekit.data.image_folder import load_image_folder
from siamesekit.errors import InvalidArgumentError


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidArgumentError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


def sample_pairs(identities, num_pairs: int, rng: np.random.Generator):
    """Draws `num_pairs` balanced pairs of image indices.

    Half the pairs (rounded up) are positive: an identity with at least two
    images is drawn uniformly, then two different images of it. The others
    are negative: two different identities drawn uniformly, one image of
    each. The pairs come shuffled.

    Args:
        identities: a `siamesekit.data.identities.Identities`.
        num_pairs: int, how many pairs.
        rng: a numpy random generator.

    Returns:
        `(first, second, labels)`: int64 arrays of image indices and the
        int32 labels, 1 for a similar pair.
    """
    members = identities.members
    num_positive = (num_pairs + 1) // 2
    num_negative = num_pairs - num_positive

    positive_ids = rng.choice(identities.with_pairs, num_positive)
    positive = np.empty((num_positive, 2), dtype=np.int64)
    for row, identity in enumerate(positive_ids):
        positive[row] = rng.choice(members[identity], 2, replace=False)

    negative = np.empty((num_negative, 2), dtype=np.int64)
    for row in range(num_negative):
        first_id, second_id = rng.choice(identities.num_identities, 2, replace=False)
        negative[row] = rng.choice(members[first_id]), rng.choice(members[second_id])

    pairs = np.concatenate([positive, negative])
    labels = np.concatenate(
        [np.ones(num_positive, np.int32), np.zeros(num_negative, np.int32)]
    )
    order = rng.permutation(num_pairs)
    return pairs[order, 0], pairs[order, 1], labels[order]


def pair_dataset(
    images,
    labels,
    *,
    batch_size: int = 32,
    pairs_per_epoch: int | None = None,
    augment: bool | Augmentation | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A dataset of balanced image pairs `((images_1, images_2), labels)`.

    Label 1 means both images show the same identity. Every pass over the
    dataset (every epoch of `fit`) draws new pairs: half similar, half
    dissimilar (see `sample_pairs`). The images stay in memory; batches of
    pairs are gathered, augmented in parallel and prefetched by `tf.data`.

    Identities with a single image cannot form a similar pair; they are
    still used in dissimilar pairs, and a warning names them.

    Args:
        images: array `(num_images, height, width, channels)` (or without the
            channel axis for grey) of pixels in [0, 255], any numeric dtype.
        labels: sequence of one identity label (int or string) per image.
        batch_size: int, pairs per batch. Defaults to `32`.
        pairs_per_epoch: int, pairs drawn per pass. Defaults to `None`: the
            number of images, rounded up to a whole number of batches.
        augment: `True` for `Augmentation()`, an `Augmentation`, or
            `None`/`False` for none. Defaults to `None`.
        seed: int, makes the pairs and the augmentation reproducible: two
            datasets built with the same seed yield the same batches, epoch
            after epoch. Defaults to `None` (different on every run).

    Returns:
        A `tf.data.Dataset` of `((images_1, images_2), labels)` with float32
        images of shape `(batch, height, width, channels)` and float32
        labels of shape `(batch,)`.

    Raises:
        DatasetError: for an empty dataset, mismatched images and labels, a
            single identity, or no identity with two images.

    Example:

    ```python
    dataset = siamesekit.data.pair_dataset(
        images, labels, batch_size=32, augment=True, seed=0
    )
    model.fit(dataset, epochs=10)
    ```
    """
    import tensorflow as tf  # only where a pipeline is built

    images = check_images(images)
    identities = group_identities(labels, num_images=len(images))
    check_pairable(identities)
    _check_positive_int("batch_size", batch_size)
    if pairs_per_epoch is None:
        pairs_per_epoch = -(-len(images) // batch_size) * batch_size
    _check_positive_int("pairs_per_epoch", pairs_per_epoch)
    singles = [
        identities.names[k]
        for k, indices in enumerate(identities.members)
        if len(indices) < 2
    ]
    if singles:
        shown = ", ".join(str(name) for name in singles[:10])
        more = f" and {len(singles) - 10} more" if len(singles) > 10 else ""
        warnings.warn(
            f"{len(singles)} identities have a single image and appear only in "
            f"dissimilar pairs: {shown}{more}.",
            stacklevel=2,
        )
    augmentation = resolve_augmentation(augment)

    rng = np.random.default_rng(seed)

    def epoch_of_pairs():
        # Called by tf.data at the start of every pass: fresh pairs each epoch.
        first, second, pair_labels = sample_pairs(identities, pairs_per_epoch, rng)
        seeds = rng.integers(0, 2**31 - 1, size=(pairs_per_epoch, 2, 2))
        yield first, second, pair_labels, seeds

    indices = tf.data.Dataset.from_generator(
        epoch_of_pairs,
        output_signature=(
            tf.TensorSpec((pairs_per_epoch,), tf.int64),
            tf.TensorSpec((pairs_per_epoch,), tf.int64),
            tf.TensorSpec((pairs_per_epoch,), tf.int32),
            tf.TensorSpec((pairs_per_epoch, 2, 2), tf.int64),
        ),
    ).unbatch()
    # Keras reads the number of steps per epoch from the known cardinality.
    indices = indices.apply(tf.data.experimental.assert_cardinality(pairs_per_epoch))

    pixels = tf.constant(images)

    def make_batch(first, second, label, seeds):
        # Whole batches are gathered and augmented at once: one op per batch
        # instead of one per image keeps the pipeline cheap on few cores.
        images_1 = tf.cast(tf.gather(pixels, first), tf.float32)
        images_2 = tf.cast(tf.gather(pixels, second), tf.float32)
        if augmentation is not None:
            images_1 = augmentation(images_1, seeds[0, 0])
            images_2 = augmentation(images_2, seeds[0, 1])
        return (images_1, images_2), tf.cast(label, tf.float32)

    dataset = indices.batch(batch_size).map(
        make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def pair_dataset_from_directory(
    directory,
    *,
    size: tuple[int, int],
    channels: int = 3,
    batch_size: int = 32,
    pairs_per_epoch: int | None = None,
    augment: bool | Augmentation | None = None,
    seed: int | None = None,
    on_error: str = "skip",
) -> tf.data.Dataset:
    """A dataset of balanced pairs from a folder with one subfolder per identity.

    The images are decoded once, in parallel, by
    `siamesekit.data.load_image_folder` (unreadable files are skipped with a
    warning listing them, or raise with `on_error="raise"`); then this is
    `pair_dataset` on the decoded images.

    Args:
        directory: folder with one subfolder of images per identity.
        size: `(height, width)` every image is resized to.
        channels: `1` (grey) or `3` (RGB). Defaults to `3`.
        batch_size, pairs_per_epoch, augment, seed: as for `pair_dataset`.
        on_error: `"skip"` or `"raise"` for unreadable files. Defaults to
            `"skip"`.

    Returns:
        A `tf.data.Dataset` of `((images_1, images_2), labels)`.

    Example:

    ```python
    dataset = siamesekit.data.pair_dataset_from_directory(
        "faces/", size=(56, 46), channels=1, augment=True, seed=0
    )
    ```
    """
    folder = load_image_folder(
        directory, size=size, channels=channels, on_error=on_error
    )
    return pair_dataset(
        folder.images,
        folder.labels,
        batch_size=batch_size,
        pairs_per_epoch=pairs_per_epoch,
        augment=augment,
        seed=seed,
    )

"""`tf.data` pipelines of P x K batches: P identities, K images of each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

from siamesekit.arguments import check_integer
from siamesekit.data.augmentation import Augmentation, resolve_augmentation
from siamesekit.data.identities import check_images, check_pairable, group_identities
from siamesekit.errors import DatasetError


def identity_batch_dataset(
    images,
    labels,
    *,
    identities_per_batch: int = 16,
    images_per_identity: int = 4,
    batches_per_epoch: int | None = None,
    augment: bool | Augmentation | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A dataset of batches holding P identities with K images each.

    Such a batch of `P * K` images contains `P * K * (K - 1) / 2` similar and
    many more dissimilar pairs, all scored from one forward pass per image:
    the cheapest training signal for a `siamesekit.SiameseModel` compiled
    with an in-batch loss.
    Every pass over the dataset draws new batches. An identity with fewer
    than K images is sampled with repeats (augmentation then makes the
    copies differ). With augmentation, every identity may have a single
    image: its K views are its similar pairs, as in duplicate detection
    (`siamesekit.training.train_duplicates_model`).

    Args:
        images: array `(num_images, height, width, channels)`, pixels in
            [0, 255].
        labels: one identity label per image.
        identities_per_batch: int P, at least 2. Defaults to `16`.
        images_per_identity: int K, at least 2. Defaults to `4`.
        batches_per_epoch: positive int. Defaults to `None`: about one
            pass over the images (`ceil(num_images / (P * K))`).
        augment: `True`, an `Augmentation`, or `None`/`False`. Defaults to
            `None`.
        seed: non-negative int for reproducible batches. Defaults to
            `None`.

    Returns:
        A `tf.data.Dataset` of `(images, identity_ids)`: float32 images
        `(P * K, height, width, channels)` and int32 identity numbers
        `(P * K,)` (positions in the sorted distinct labels).

    Raises:
        DatasetError: for an empty dataset, a single identity, no identity
            with two images (without augmentation), or fewer identities than
            P.
        InvalidArgumentError: if P, K, `batches_per_epoch` or `seed` is not
            an integer in its range.

    Example:

    ```python
    batches = siamesekit.data.identity_batch_dataset(
        images, labels, identities_per_batch=16, images_per_identity=4
    )
    ```
    """
    import tensorflow as tf  # only where a pipeline is built

    identities_per_batch = check_integer(
        "identities_per_batch", identities_per_batch, minimum=2
    )
    images_per_identity = check_integer(
        "images_per_identity", images_per_identity, minimum=2
    )
    batches_per_epoch = check_integer(
        "batches_per_epoch", batches_per_epoch, minimum=1, allow_none=True
    )
    seed = check_integer("seed", seed, minimum=0, allow_none=True)
    images = check_images(images)
    identities = group_identities(labels, num_images=len(images))
    augmentation = resolve_augmentation(augment)
    check_pairable(identities, augmented=augmentation is not None)
    if identities_per_batch > identities.num_identities:
        raise DatasetError(
            f"A batch of {identities_per_batch} identities needs at least that "
            f"many identities; the data has {identities.num_identities}. "
            "Lower `identities_per_batch`."
        )
    batch_size = identities_per_batch * images_per_identity
    if batches_per_epoch is None:
        batches_per_epoch = max(1, -(-len(images) // batch_size))
    rng = np.random.default_rng(seed)
    members = identities.members

    def epoch_of_batches():
        for _ in range(batches_per_epoch):
            chosen = rng.choice(identities.num_identities, identities_per_batch, False)
            indices = np.concatenate(
                [
                    rng.choice(
                        members[k],
                        images_per_identity,
                        replace=len(members[k]) < images_per_identity,
                    )
                    for k in chosen
                ]
            )
            seeds = rng.integers(0, 2**31 - 1, size=(2,))
            yield indices, identities.ids[indices].astype(np.int32), seeds

    batches = tf.data.Dataset.from_generator(
        epoch_of_batches,
        output_signature=(
            tf.TensorSpec((batch_size,), tf.int64),
            tf.TensorSpec((batch_size,), tf.int32),
            tf.TensorSpec((2,), tf.int64),
        ),
    ).apply(tf.data.experimental.assert_cardinality(batches_per_epoch))
    pixels = tf.constant(images)

    def make_batch(indices, ids, seed):
        batch = tf.cast(tf.gather(pixels, indices), tf.float32)
        if augmentation is not None:
            batch = augmentation(batch, seed)
        return batch, ids

    return batches.map(
        make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    ).prefetch(tf.data.AUTOTUNE)

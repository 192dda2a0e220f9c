"""Copy-like views: reproducible, in range, and the basis of single-image identities."""

import numpy as np
import pytest
import tensorflow as tf

from siamesekit.data import CopyAugmentation, identity_batch_dataset
from siamesekit.errors import DatasetError, InvalidArgumentError

pytestmark = pytest.mark.backend_neutral


@pytest.mark.parametrize("channels", [1, 3])
def test_views_are_reproducible_in_range_and_differ_per_seed(rng, channels):
    images = rng.uniform(0, 255, (6, 24, 20, channels)).astype(np.float32)
    augment = CopyAugmentation()
    first = augment(images, tf.constant([1, 2], tf.int64)).numpy()
    again = augment(images, tf.constant([1, 2], tf.int64)).numpy()
    other = augment(images, tf.constant([3, 4], tf.int64)).numpy()
    assert first.shape == images.shape and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 255
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 5
    # Each view is changed: on noise, by many grey levels on average.
    assert np.abs(first - images).mean(axis=(1, 2, 3)).min() > 5


def test_without_changes_a_view_is_the_image(rng):
    images = rng.uniform(0, 255, (3, 16, 16, 3)).astype(np.float32)
    unchanged = CopyAugmentation(
        min_crop=1.0,
        max_rotation=0.0,
        min_resolution=1.0,
        brightness=0.0,
        contrast=0.0,
        gamma=0.0,
        saturation=0.0,
        colour_cast=0.0,
        overlay_probability=0.0,
        min_jpeg_quality=100,
    )
    views = unchanged(images, tf.constant([0, 1], tf.int64)).numpy()
    np.testing.assert_allclose(views, images, atol=1e-3)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_crop": 0.0}, r"`min_crop` must be in \(0, 1\]. Received: min_crop=0.0"),
        ({"saturation": 1.5}, r"in \[0, 1\]. Received: saturation=1.5"),
        ({"max_rotation": 90}, r"Received: max_rotation=90"),
        ({"min_jpeg_quality": 0}, r"Received: min_jpeg_quality=0"),
        ({"min_jpeg_quality": 50.0}, r"Received: min_jpeg_quality=50.0"),
    ],
)
def test_bad_settings_are_refused(options, message):
    with pytest.raises(InvalidArgumentError, match=message):
        CopyAugmentation(**options)


def test_single_image_identities_pair_their_views_only_when_augmented(rng):
    images = rng.uniform(0, 255, (5, 12, 12, 3)).astype(np.float32)
    labels = np.arange(5)
    batches = identity_batch_dataset(
        images,
        labels,
        identities_per_batch=4,
        images_per_identity=2,
        augment=CopyAugmentation(),
        seed=0,
    )
    views, ids = next(iter(batches))
    assert views.shape == (8, 12, 12, 3)
    ids = ids.numpy()
    assert len(set(ids)) == 4 and all(np.sum(ids == k) == 2 for k in set(ids))
    # The two views of one image differ.
    first, second = np.flatnonzero(ids == ids[0])
    assert np.abs(views[first].numpy() - views[second].numpy()).mean() > 1
    with pytest.raises(DatasetError, match="single image"):
        identity_batch_dataset(images, labels, identities_per_batch=4)

import numpy as np
import pytest

from siamesekit.data import Augmentation, pair_dataset
from siamesekit.errors import DatasetError, InvalidArgumentError

# Runs once, under TensorFlow: NumPy and tf.data, the same on every backend.
pytestmark = pytest.mark.backend_neutral


def identity_images(counts, size=8):
    """Images whose every pixel is 10 * identity, so a pair's label can be read
    back from its pixels."""
    labels = np.repeat(np.arange(len(counts)), counts)
    images = np.broadcast_to(
        (labels * 10.0)[:, None, None, None], (len(labels), size, size, 1)
    ).astype(np.float32)
    return images, labels


def collect(dataset):
    firsts, seconds, labels = [], [], []
    for (first, second), label in dataset:
        firsts.append(first.numpy())
        seconds.append(second.numpy())
        labels.append(label.numpy())
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(labels)


def test_pairs_are_balanced_and_labelled_by_identity():
    images, labels = identity_images([3, 4, 5, 2])
    dataset = pair_dataset(images, labels, batch_size=10, pairs_per_epoch=200, seed=0)

    first, second, pair_labels = collect(dataset)

    assert first.shape == (200, 8, 8, 1) and first.dtype == np.float32
    assert pair_labels.sum() == 100
    same_identity = first[:, 0, 0, 0] == second[:, 0, 0, 0]
    np.testing.assert_array_equal(pair_labels, same_identity.astype(np.float32))


def test_positive_pairs_use_two_different_images():
    # Identity 0 has images with different pixels, so a pair of one image
    # with itself would show as identical pixels.
    images = np.arange(6 * 4, dtype=np.float32).reshape(6, 2, 2, 1)
    labels = [0, 0, 0, 1, 1, 1]
    first, second, pair_labels = collect(
        pair_dataset(images, labels, pairs_per_epoch=100, seed=1)
    )
    positive = pair_labels == 1
    assert not (first[positive] == second[positive]).all(axis=(1, 2, 3)).any()


def test_each_epoch_draws_new_pairs_and_a_seed_repeats_them():
    images, labels = identity_images([4, 4, 4, 4])
    images = images + np.arange(16, dtype=np.float32)[:, None, None, None]
    dataset = pair_dataset(images, labels, pairs_per_epoch=32, seed=3)
    again = pair_dataset(images, labels, pairs_per_epoch=32, seed=3)

    epoch_1, epoch_2 = collect(dataset), collect(dataset)
    repeat_1, repeat_2 = collect(again), collect(again)

    assert not np.array_equal(epoch_1[0], epoch_2[0])
    for produced, repeated in zip(epoch_1 + epoch_2, repeat_1 + repeat_2):
        np.testing.assert_array_equal(produced, repeated)


def test_batches_and_cardinality():
    images, labels = identity_images([5, 5])
    dataset = pair_dataset(images, labels, batch_size=4)
    # Default: one pair per image, rounded up to whole batches.
    assert int(dataset.cardinality()) == 3
    sizes = [len(label) for _, label in dataset]
    assert sizes == [4, 4, 4]


def test_augmentation_keeps_shape_and_range_and_changes_pixels():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (8, 16, 12, 3)).astype(np.uint8)
    labels = [0, 0, 1, 1, 2, 2, 3, 3]
    plain = collect(pair_dataset(images, labels, pairs_per_epoch=16, seed=0))
    augmented = collect(
        pair_dataset(images, labels, pairs_per_epoch=16, seed=0, augment=True)
    )
    assert augmented[0].shape == (16, 16, 12, 3)
    assert augmented[0].min() >= 0 and augmented[0].max() <= 255
    np.testing.assert_array_equal(plain[2], augmented[2])
    assert not np.allclose(plain[0], augmented[0])


def test_no_flip_augmentation_never_mirrors():
    # Left half dark, right half bright: a mirror would swap them.
    image = np.zeros((8, 8, 1), np.float32)
    image[:, 4:] = 200.0
    images = np.stack([image] * 4)
    augment = Augmentation(
        flip=False,
        max_rotation=0.0,
        max_zoom=0.0,
        max_shift=0.0,
        brightness=0.0,
        contrast=0.0,
    )
    first, _, _ = collect(
        pair_dataset(images, [0, 0, 1, 1], pairs_per_epoch=20, augment=augment, seed=0)
    )
    np.testing.assert_array_equal(first, np.broadcast_to(image, first.shape))


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((0, 4, 4, 1)), [], "empty"),
        (np.zeros((3, 4, 4, 1)), [0, 0], "one label per image"),
        (np.zeros((3, 4, 4, 1)), [7, 7, 7], "at least two identities"),
        (np.zeros((3, 4, 4, 1)), [0, 1, 2], "single image"),
        (np.zeros((3, 4, 4, 2)), [0, 0, 1], "1 or 3 channels"),
    ],
)
def test_bad_datasets_raise_dataset_error(images, labels, message):
    with pytest.raises(DatasetError, match=message):
        pair_dataset(images, labels)


def test_identities_with_one_image_are_named_in_a_warning():
    images, labels = identity_images([3, 1, 2])
    with pytest.warns(UserWarning, match=r"1 identities have a single image.*: 1\.$"):
        dataset = pair_dataset(images, labels, pairs_per_epoch=50, seed=0)
    first, second, pair_labels = collect(dataset)
    # The lone image of identity 1 (pixels 10) only appears in negative pairs.
    lone = (first[:, 0, 0, 0] == 10) | (second[:, 0, 0, 0] == 10)
    assert lone.any() and (pair_labels[lone] == 0).all()


def test_bad_arguments_raise():
    images, labels = identity_images([2, 2])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        pair_dataset(images, labels, batch_size=0)
    with pytest.raises(InvalidArgumentError, match="augment"):
        pair_dataset(images, labels, augment="strong")
    with pytest.raises(InvalidArgumentError, match="max_shift"):
        Augmentation(max_shift=0.7)


def test_rotation_turns_a_bar_but_leaves_a_centred_disc():
    import tensorflow as tf

    rotate = Augmentation(
        flip=False,
        max_rotation=45.0,
        max_zoom=0.0,
        max_shift=0.0,
        brightness=0.0,
        contrast=0.0,
    )
    rows, columns = np.mgrid[:33, :33] - 16.0
    # Smooth shapes, so that resampling itself changes little.
    disc = 200.0 * np.exp(-(rows**2 + columns**2) / 50.0)[..., None]
    bar = 200.0 * np.exp(-(columns**2) / 8.0)[..., None]
    seed = tf.constant([3, 4], tf.int64)
    turned_disc = rotate(tf.constant(disc[None], tf.float32), seed).numpy()[0]
    turned_bar = rotate(tf.constant(bar[None], tf.float32), seed).numpy()[0]
    disc_change = np.abs(turned_disc - disc).mean()
    bar_change = np.abs(turned_bar - bar).mean()
    # A centred blob is the same at any angle; the bar leaves its columns.
    assert disc_change < 1.0
    assert bar_change > 5 * disc_change


def test_flip_mirrors_exactly_about_half_of_the_images():
    import tensorflow as tf

    flip_only = Augmentation(
        flip=True,
        max_rotation=0.0,
        max_zoom=0.0,
        max_shift=0.0,
        brightness=0.0,
        contrast=0.0,
    )
    image = np.arange(5 * 7, dtype=np.float32).reshape(1, 5, 7, 1)
    images = np.repeat(image, 40, axis=0)
    out = flip_only(tf.constant(images), tf.constant([5, 6], tf.int64)).numpy()
    mirrored = np.all(out == image[:, :, ::-1], axis=(1, 2, 3))
    unchanged = np.all(out == image, axis=(1, 2, 3))
    assert (mirrored | unchanged).all()
    assert 10 <= mirrored.sum() <= 30

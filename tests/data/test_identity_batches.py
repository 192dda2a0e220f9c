import numpy as np
import pytest

from siamesekit.data import identity_batch_dataset
from siamesekit.errors import DatasetError, InvalidArgumentError


def test_batches_hold_p_identities_with_k_images_each():
    labels = np.repeat(["a", "b", "c", "d", "e"], [6, 6, 6, 6, 3])
    images = np.arange(len(labels), dtype=np.float32)[:, None, None, None] * np.ones(
        (1, 4, 4, 1), np.float32
    )
    dataset = identity_batch_dataset(
        images,
        labels,
        identities_per_batch=3,
        images_per_identity=4,
        seed=0,
        batches_per_epoch=5,
    )
    assert int(dataset.cardinality()) == 5
    for batch, ids in dataset:
        ids = ids.numpy()
        assert batch.shape == (12, 4, 4, 1)
        values, counts = np.unique(ids, return_counts=True)
        assert len(values) == 3 and (counts == 4).all()
        # Each image carries its own index: its identity must match the id.
        index = batch.numpy()[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(np.unique(labels)[ids], labels[index])


def test_more_identities_per_batch_than_exist_is_an_error():
    labels = np.repeat([0, 1, 2], 2)
    with pytest.raises(DatasetError, match="Lower `identities_per_batch`"):
        identity_batch_dataset(np.zeros((6, 4, 4, 1)), labels, identities_per_batch=4)


def test_counts_accept_numpy_integers_and_refuse_the_rest():
    labels = np.repeat([0, 1, 2], 2)
    images = np.zeros((6, 4, 4, 1), np.float32)
    # P and K read from an array, as the batch size already could be.
    dataset = identity_batch_dataset(
        images,
        labels,
        identities_per_batch=np.int64(3),
        images_per_identity=np.int32(2),
        batches_per_epoch=np.int64(2),
    )
    assert int(dataset.cardinality()) == 2
    assert [tuple(batch.shape) for batch, _ in dataset] == [(6, 4, 4, 1)] * 2
    for arguments, message in (
        (
            {"batches_per_epoch": 0},
            "`batches_per_epoch` must be an integer >= 1 or "
            "None. Received: batches_per_epoch=0",
        ),
        ({"batches_per_epoch": -1}, "Received: batches_per_epoch=-1"),
        (
            {"identities_per_batch": 3.0},
            "`identities_per_batch` must be an integer "
            ">= 2. Received: identities_per_batch=3.0",
        ),
        ({"images_per_identity": True}, "Received: images_per_identity=True"),
        ({"seed": "0"}, "`seed` must be an integer >= 0 or None. Received: seed='0'"),
    ):
        with pytest.raises(InvalidArgumentError) as caught:
            identity_batch_dataset(
                images, labels, **{"identities_per_batch": 3, **arguments}
            )
        assert str(caught.value).endswith(message)

import numpy as np
import pytest

from siamesekit.data import split_by_identity
from siamesekit.errors import DatasetError, InvalidArgumentError

# Runs once, under TensorFlow: NumPy only.
pytestmark = pytest.mark.backend_neutral


def test_identities_never_cross_parts():
    labels = np.repeat([f"person{k}" for k in range(10)], 3)
    split = split_by_identity(labels, test=0.2, validation=3, seed=0)

    parts = [
        set(labels[split.train]),
        set(labels[split.validation]),
        set(labels[split.test]),
    ]
    assert [len(part) for part in parts] == [5, 3, 2]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    every_image = np.sort(np.concatenate([split.train, split.validation, split.test]))
    np.testing.assert_array_equal(every_image, np.arange(30))


def test_seed_chooses_the_identities():
    labels = np.repeat(np.arange(20), 2)
    first = split_by_identity(labels, test=0.25, seed=1)
    again = split_by_identity(labels, test=0.25, seed=1)
    other = split_by_identity(labels, test=0.25, seed=2)
    np.testing.assert_array_equal(first.test, again.test)
    assert not np.array_equal(first.test, other.test)


def test_no_validation_part_is_empty():
    split = split_by_identity(np.repeat(np.arange(5), 2), test=2)
    assert len(split.validation) == 0 and len(split.test) == 4


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"test": 0.9}, "leaves 0 for training"),
        ({"test": 1}, "single identity"),
        ({"test": 1.5}, r"\[0, 1\)"),
        ({"test": "half"}, "fraction"),
    ],
)
def test_impossible_splits_raise(arguments, message):
    with pytest.raises(DatasetError, match=message):
        split_by_identity(np.repeat(np.arange(4), 2), **arguments)


def test_seed_must_be_a_non_negative_integer_or_none():
    labels = np.repeat(np.arange(10), 2)
    np.testing.assert_array_equal(
        split_by_identity(labels, seed=np.int64(3)).test,
        split_by_identity(labels, seed=3).test,
    )
    for seed, shown in (("x", "'x'"), (1.5, "1.5"), (-1, "-1"), (True, "True")):
        with pytest.raises(InvalidArgumentError) as caught:
            split_by_identity(labels, seed=seed)
        assert str(caught.value) == (
            f"`seed` must be an integer >= 0 or None. Received: seed={shown}"
        )

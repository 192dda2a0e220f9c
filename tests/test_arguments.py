import numpy as np
import pytest

from siamesekit.arguments import check_integer, check_positive
from siamesekit.errors import InvalidArgumentError

# Runs once, under TensorFlow: argument checks in plain Python.
pytestmark = pytest.mark.backend_neutral


def test_python_and_numpy_integers_come_back_as_python_ints():
    for value in (16, np.int64(16), np.int32(16), np.uint8(16)):
        checked = check_integer("identities_per_batch", value, minimum=2)
        assert checked == 16 and type(checked) is int
    assert check_integer("seed", None, allow_none=True) is None
    assert check_integer("offset", -3) == -3


@pytest.mark.parametrize(
    "value, shown",
    [
        (True, "True"),
        (np.bool_(True), "np.True_"),
        (16.0, "16.0"),
        (np.float32(16), "np.float32(16.0)"),
        ("16", "'16'"),
        (None, "None"),
        ([16], "[16]"),
    ],
)
def test_anything_but_an_integer_is_refused(value, shown):
    with pytest.raises(InvalidArgumentError) as caught:
        check_integer("batch_size", value, minimum=1)
    assert str(caught.value) == (
        f"`batch_size` must be an integer >= 1. Received: batch_size={shown}"
    )


def test_the_minimum_and_none_are_in_the_message():
    with pytest.raises(InvalidArgumentError) as caught:
        check_integer("workers", -1, minimum=1, allow_none=True)
    assert str(caught.value) == (
        "`workers` must be an integer >= 1 or None. Received: workers=-1"
    )


def test_positive_numbers_come_back_as_floats():
    for value in (1.5, 2, np.float32(0.25), np.int64(3)):
        checked = check_positive("sigma", value)
        assert checked == float(value) and type(checked) is float
    assert check_positive("sigma", None, allow_none=True) is None


@pytest.mark.parametrize(
    "value", [0, -1.5, float("inf"), float("nan"), True, "1.5", None]
)
def test_anything_but_a_positive_number_is_refused(value):
    with pytest.raises(InvalidArgumentError) as caught:
        check_positive("sigma", value)
    assert str(caught.value) == (
        f"`sigma` must be a positive number. Received: sigma={value!r}"
    )

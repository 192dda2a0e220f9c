import cv2
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import ModelFileError, WeightsUnavailableError


def test_compare_images_with_a_saved_model(tmp_path, rng):
    model = siamesekit.create_siamese_model(
        (32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=8
    )
    model_path = tmp_path / "m.keras"
    model.save(model_path)
    first = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    second = rng.integers(0, 256, size=(50, 40, 3)).astype(np.uint8)
    paths = []
    for name, image in (("1.png", first), ("2.png", second)):
        cv2.imwrite(str(tmp_path / name), image[:, :, ::-1])
        paths.append(tmp_path / name)
    similarity, difference, visualization = siamesekit.compare_images(
        *paths, model=model_path, precision="float32"
    )
    expected = siamesekit.Comparator(model, precision="float32").compare(*paths)
    assert similarity == pytest.approx(expected.similarity, abs=1e-6)
    assert difference == pytest.approx(expected.distance, rel=1e-5)
    np.testing.assert_array_equal(visualization, expected.visualization)
    with pytest.raises(ModelFileError, match="nothing.keras"):
        siamesekit.compare_images(*paths, model=tmp_path / "nothing.keras")


def test_offline_imagenet_default_says_what_to_do(tmp_path, monkeypatch, rng):
    # No network: the default VGG16 ImageNet tower cannot be built, and the
    # error names the way out instead of a stack of URL errors.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    image = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    with pytest.raises(WeightsUnavailableError, match="weights=None"):
        siamesekit.compare_images(image, image, input_shape=(32, 32, 3))

"""The `weights=` paths of EmbeddingTower, without any download."""

import socket

import h5py
import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.errors import WeightsUnavailableError

VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def write_keras_weights_file(model, path):
    """Writes `model`'s weights in the HDF5 layout of Keras' ImageNet files."""
    layers = [layer for layer in model.layers if layer.weights]
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode() for layer in layers]
        file.attrs["keras_version"] = b"3"
        file.attrs["backend"] = b"tensorflow"
        for layer in layers:
            group = file.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
            group.attrs["weight_names"] = names
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name.decode(), data=np.asarray(weight))


@pytest.fixture
def reference_vgg16():
    """A headless VGG16 with random weights: the stand-in for ImageNet's."""
    return keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )


def assert_same_backbone_weights(tower, reference):
    for loaded, expected in zip(tower.backbone.weights, reference.weights):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(expected))


def test_imagenet_weights_load_from_the_keras_cache(
    tmp_path, monkeypatch, reference_vgg16
):
    (tmp_path / "models").mkdir()
    write_keras_weights_file(reference_vgg16, tmp_path / "models" / VGG16_NOTOP_FILE)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    tower = siamesekit.EmbeddingTower(input_shape=(32, 32, 3), weights="imagenet")

    assert_same_backbone_weights(tower, reference_vgg16)
    # Pretrained backbones start frozen unless asked otherwise.
    assert tower.backbone.trainable_weights == []


def test_weights_load_from_a_local_file(tmp_path, reference_vgg16):
    path = tmp_path / "my_vgg16.h5"
    write_keras_weights_file(reference_vgg16, path)

    tower = siamesekit.EmbeddingTower(
        input_shape=(64, 48, 1), weights=path, trainable_backbone_layers=-1
    )

    assert_same_backbone_weights(tower, reference_vgg16)
    assert len(tower.backbone.trainable_weights) == len(reference_vgg16.weights)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="no such file"):
        siamesekit.EmbeddingTower(
            input_shape=(32, 32, 3), weights=tmp_path / "absent.h5"
        )


def test_weights_of_another_model_are_a_clear_error(tmp_path):
    path = tmp_path / "other.h5"
    write_keras_weights_file(
        keras.applications.VGG19(include_top=False, weights=None), path
    )
    with pytest.raises(WeightsUnavailableError, match="headless 'vgg16'"):
        siamesekit.EmbeddingTower(input_shape=(32, 32, 3), weights=path)


def test_offline_download_error_names_the_way_out(tmp_path, monkeypatch):
    try:
        socket.getaddrinfo("storage.googleapis.com", 443)
    except OSError:
        pass
    else:
        pytest.skip("this machine is online; the offline error cannot be shown")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    with pytest.raises(WeightsUnavailableError) as error:
        siamesekit.EmbeddingTower(input_shape=(32, 32, 3), weights="imagenet")

    message = str(error.value)
    assert "Could not download the ImageNet weights of 'vgg16'" in message
    assert "weights=None" in message
    assert str(tmp_path / "models" / VGG16_NOTOP_FILE) in message


def test_small_cnn_has_no_pretrained_weights():
    with pytest.raises(siamesekit.errors.InvalidArgumentError, match="no ImageNet"):
        siamesekit.EmbeddingTower(backbone="small_cnn", input_shape=(32, 32, 1))

"""The training recipe verifies new people with embeddings that stay spread out."""

import dataclasses

import keras
import numpy as np
import pytest

from siamesekit.data import load_image_folder
from siamesekit.errors import InvalidArgumentError
from siamesekit.evaluation import embed_images, evaluate_verification
from siamesekit.training.recipe import TrainingConfig, train_verification_model


# A learning bar: runs once, under TensorFlow. The identity-batch train step
# it goes through is each backend's, tested on every backend in
# tests/models/test_identity_batch_training.py.
@pytest.mark.backend_neutral
@pytest.mark.slow
def test_recipe_verifies_new_people_without_collapsing(shared_data):
    faces = load_image_folder(shared_data / "orl_faces", size=(32, 28), channels=1)
    person = np.array([int(label.lstrip("s")) for label in faces.labels])
    train, test = person <= 30, person > 30
    # 15 epochs, about 7 s on 2 cores. Measured there: centroid norm 0.25,
    # threshold 1.05, AUC 0.973 (without whitening 0.29, 0.71, 0.963);
    # without standardization the embeddings collapse (centroid norm 1.000,
    # threshold 0.008) at a similar AUC.
    config = dataclasses.replace(TrainingConfig(), epochs=15)
    model, _ = train_verification_model(
        faces.images[train], person[train], config=config, verbose=0
    )
    embeddings = embed_images(model, faces.images[test])
    result = evaluate_verification(model, faces.images[test], person[test])
    # Unit embeddings in a narrow cone have a centroid of norm near 1.
    assert np.linalg.norm(embeddings.mean(axis=0)) < 0.6
    assert result.threshold > 0.3
    assert result.auc > 0.93


def _tiny_config(**options):
    return TrainingConfig(
        epochs=1,
        identities_per_batch=3,
        images_per_identity=2,
        dense_units=8,
        embedding_dim=4,
        test_time_zooms=None,
        augment=None,
        **options,
    )


def test_recipe_fits_the_whitening_to_the_training_images():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (12, 8, 8, 1)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 4)

    model, _ = train_verification_model(
        images, labels, config=_tiny_config(), verbose=0
    )

    tower = model.tower
    features = tower.backbone(tower.preprocess(images), training=False)
    unwhitened = keras.ops.convert_to_numpy(
        tower._unwhitened_head(features, training=False)
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tower.whitening.mean),
        unwhitened.mean(axis=0),
        rtol=1e-4,
        atol=1e-5,
    )
    plain, _ = train_verification_model(
        images, labels, config=_tiny_config(whitening=None), verbose=0
    )
    assert plain.tower.whitening is None


def test_counts_in_the_config_are_checked_before_training():
    images = np.zeros((6, 8, 8, 1), np.float32)
    labels = np.repeat([0, 1, 2], 2)
    for change, message in (
        ({"epochs": 0}, "`epochs` must be an integer >= 1. Received: epochs=0"),
        ({"epochs": 2.0}, "Received: epochs=2.0"),
        ({"identities_per_batch": "3"}, "Received: identities_per_batch='3'"),
        ({"seed": -1}, "`seed` must be an integer >= 0. Received: seed=-1"),
    ):
        config = dataclasses.replace(TrainingConfig(), **change)
        with pytest.raises(InvalidArgumentError) as caught:
            train_verification_model(images, labels, config=config, verbose=0)
        assert str(caught.value).endswith(message)

"""SiameseModel trained on identity batches `(images, identity_ids)`."""

import keras
import numpy as np
import pytest

import siamesekit
from siamesekit.data import identity_batch_dataset
from siamesekit.errors import InvalidArgumentError
from siamesekit.losses import BatchHardTripletLoss, InBatchContrastiveLoss, NTXentLoss

PAIR_METRICS = {"positive_distance", "negative_distance", "pair_accuracy", "auc"}


def small_tower(dense_units=8):
    return siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(8, 8, 1),
        weights=None,
        dense_units=dense_units,
        embedding_dim=4,
        normalize=True,
    )


def structured_images(rng):
    """4 identities, each a bright quadrant, plus noise."""
    images = rng.uniform(0, 60, (24, 8, 8, 1)).astype(np.float32)
    labels = np.repeat(np.arange(4), 6)
    for index, label in enumerate(labels):
        row, column = divmod(label, 2)
        images[index, row * 4 : row * 4 + 4, column * 4 : column * 4 + 4] += 180
    return images, labels


def batches(images, labels, **options):
    options = {"identities_per_batch": 4, "images_per_identity": 3, **options}
    return identity_batch_dataset(images, labels, seed=0, **options)


def test_fit_reports_pair_metrics_and_lowers_the_loss(rng):
    images, labels = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=InBatchContrastiveLoss(0.8)
    )
    history = model.fit(batches(images, labels, batches_per_epoch=4), epochs=6)
    logs = history.history
    assert {"loss"} | PAIR_METRICS <= set(logs)
    assert logs["loss"][-1] < logs["loss"][0]
    assert logs["negative_distance"][-1] > logs["positive_distance"][-1]
    assert model.threshold == 0.4  # half the margin


def test_nt_xent_training_pulls_the_views_of_an_identity_together(rng):
    images, labels = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=NTXentLoss(0.2))
    history = model.fit(batches(images, labels, batches_per_epoch=4), epochs=6)
    logs = history.history
    assert logs["loss"][-1] < logs["loss"][0]
    assert logs["negative_distance"][-1] > logs["positive_distance"][-1]


def test_metrics_are_those_of_all_pairs_of_the_batch(rng):
    images, labels = structured_images(rng)
    images, labels = images[[0, 1, 6, 7]], labels[[0, 1, 6, 7]]
    model = siamesekit.SiameseModel(small_tower(dense_units=64), threshold=0.5)
    model.compile(loss=BatchHardTripletLoss(0.3))
    logs = model.evaluate(images, labels, batch_size=4, return_dict=True, verbose=0)
    embeddings = keras.ops.convert_to_numpy(model.embed(images))
    distance = lambda i, j: np.linalg.norm(embeddings[i] - embeddings[j])  # noqa: E731
    # Pairs (0, 1) and (2, 3) are similar; the other four are not.
    positives = [distance(0, 1), distance(2, 3)]
    negatives = [distance(i, j) for i in (0, 1) for j in (2, 3)]
    np.testing.assert_allclose(logs["positive_distance"], np.mean(positives), 1e-4)
    np.testing.assert_allclose(logs["negative_distance"], np.mean(negatives), 1e-4)
    correct = sum(d < 0.5 for d in positives) + sum(d >= 0.5 for d in negatives)
    np.testing.assert_allclose(logs["pair_accuracy"], correct / 6, 1e-6)


def test_triplet_loss_sets_a_unit_sphere_threshold():
    model = siamesekit.SiameseModel(small_tower())
    model.compile(loss=BatchHardTripletLoss(0.3))
    assert model.threshold == 1.0


def test_a_pair_loss_on_identity_batches_names_both(rng):
    images, labels = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile()  # ContrastiveLoss: a pair loss
    with pytest.raises(InvalidArgumentError, match="ContrastiveLoss.*identity batch"):
        model.fit(images, labels, batch_size=8, epochs=1, verbose=0)


def test_an_in_batch_loss_on_pair_batches_names_both(rng):
    images, _ = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile(loss=BatchHardTripletLoss())
    labels = np.ones(12, np.float32)
    with pytest.raises(InvalidArgumentError, match="BatchHardTripletLoss.*pair batch"):
        model.fit((images[:12], images[12:]), labels, epochs=1, verbose=0)


def test_identity_batches_refuse_sample_weights(rng):
    images, labels = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile(loss=BatchHardTripletLoss())
    with pytest.raises(InvalidArgumentError, match="sample_weight"):
        model.fit(images, labels, sample_weight=np.ones(24), batch_size=8, verbose=0)


def test_predict_on_images_embeds_and_on_pairs_gives_distances(rng):
    images, labels = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile(loss=BatchHardTripletLoss(0.3))
    model.fit(batches(images, labels, identities_per_batch=2), epochs=1, verbose=0)
    embeddings = model.predict(images[:4], verbose=0)
    assert embeddings.shape == (4, 4)
    expected = np.linalg.norm(embeddings[:2] - embeddings[2:], axis=1)
    distances = model.predict((images[:2], images[2:4]), verbose=0)
    np.testing.assert_allclose(distances, expected, atol=1e-5)


def test_save_and_load_after_identity_training(tmp_path, rng):
    images, labels = structured_images(rng)
    model = siamesekit.SiameseModel(small_tower())
    model.compile(loss=BatchHardTripletLoss(0.3))
    model.fit(batches(images, labels), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert isinstance(restored.loss, BatchHardTripletLoss)
    assert restored.threshold == 1.0
    pair = (images[:3], images[3:6])
    np.testing.assert_allclose(
        restored.predict(pair, verbose=0), model.predict(pair, verbose=0), atol=1e-6
    )

import keras
import numpy as np

import siamesekit
from siamesekit.data import identity_batch_dataset
from siamesekit.losses import BatchHardTripletLoss
from siamesekit.training import InBatchPairModel


def small_tower():
    return siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(8, 8, 1),
        weights=None,
        dense_units=8,
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


def test_fit_reports_pair_metrics_and_lowers_the_loss(rng):
    images, labels = structured_images(rng)
    batches = identity_batch_dataset(
        images,
        labels,
        identities_per_batch=4,
        images_per_identity=3,
        seed=0,
        batches_per_epoch=4,
    )
    trainer = InBatchPairModel(small_tower(), margin=0.8)
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = trainer.fit(batches, epochs=6, verbose=0)
    logs = history.history
    assert {
        "loss",
        "positive_distance",
        "negative_distance",
        "pair_accuracy",
        "auc",
    } <= set(logs)
    assert logs["loss"][-1] < logs["loss"][0]
    assert logs["negative_distance"][-1] > logs["positive_distance"][-1]


def test_siamese_model_shares_the_trained_tower(rng):
    images, labels = structured_images(rng)
    trainer = InBatchPairModel(small_tower(), margin=0.3)
    trainer.compile(optimizer="adam", loss=BatchHardTripletLoss(0.3))
    trainer.fit(
        identity_batch_dataset(images, labels, identities_per_batch=2, seed=0),
        epochs=1,
        verbose=0,
    )
    model = trainer.siamese_model(threshold=0.7)
    assert model.tower is trainer.tower and model.threshold == 0.7
    embeddings = np.asarray(trainer(images[:4]))
    expected = np.linalg.norm(embeddings[:2] - embeddings[2:], axis=1)
    distances = np.asarray(model((images[:2], images[2:4])))
    np.testing.assert_allclose(distances, expected, atol=1e-5)


def test_save_and_load(tmp_path, rng):
    images, _ = structured_images(rng)
    trainer = InBatchPairModel(small_tower(), margin=0.5, threshold=0.4)
    trainer.build((None, 8, 8, 1))
    trainer.save(tmp_path / "trainer.keras")
    restored = keras.models.load_model(tmp_path / "trainer.keras", safe_mode=True)
    assert (restored.margin, restored.threshold) == (0.5, 0.4)
    np.testing.assert_allclose(restored(images[:3]), trainer(images[:3]), atol=1e-6)

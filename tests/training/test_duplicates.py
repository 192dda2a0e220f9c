"""A duplicates model trained on unlabelled photos tells a copy from other photos."""

import dataclasses

import cv2
import keras
import numpy as np
import pytest

import siamesekit
from siamesekit import cli
from siamesekit.data import load_images
from siamesekit.errors import DatasetError, InvalidArgumentError
from siamesekit.training import DUPLICATES_CONFIG, train_duplicates_model
from siamesekit.training.duplicates import settle_batch_norm

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "clock")
PHOTOS += ("moon", "brick", "page", "text", "hubble_deep_field")

TINY = dataclasses.replace(
    DUPLICATES_CONFIG,
    epochs=1,
    identities_per_batch=4,
    dense_units=8,
    embedding_dim=4,
)


def _photos():
    import skimage.data

    return [getattr(skimage.data, name)() for name in PHOTOS]


def _copy(photo):
    """A copy as a user makes one: cropped, brightened, saved as JPEG."""
    height, width = photo.shape[:2]
    cropped = photo[height // 10 :, width // 20 : width - width // 20]
    brighter = np.clip(cropped.astype(np.float32) * 1.1 + 15, 0, 255)
    if brighter.ndim == 3:
        brighter = brighter[..., ::-1]  # OpenCV encodes BGR
    ok, encoded = cv2.imencode(
        ".jpg", brighter.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 40]
    )
    assert ok
    return encoded.tobytes()


def _margins(model_or_tower, photos):
    """Per photo: similarity of its copy to it minus the copy's best other."""
    comparator = siamesekit.Comparator(model_or_tower, precision="float32")
    originals = comparator.embed(photos)
    copies = comparator.embed([_copy(photo) for photo in photos])
    originals /= np.linalg.norm(originals, axis=1, keepdims=True)
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    similarity = copies @ originals.T
    others = np.where(np.eye(len(photos), dtype=bool), -np.inf, similarity)
    return np.diag(similarity) - others.max(axis=1)


# The learning bar runs once: the train step it goes through is each
# backend's, tested on every backend by tests/models and tests/training.
@pytest.mark.backend_neutral
@pytest.mark.slow
def test_a_copy_is_closer_to_its_original_than_other_photos_after_training():
    photos = _photos()
    config = dataclasses.replace(
        DUPLICATES_CONFIG,
        epochs=30,
        identities_per_batch=len(photos),
        dense_units=32,
        embedding_dim=16,
    )
    model, history = train_duplicates_model(
        photos, image_size=(32, 32), config=config, verbose=0
    )
    # The same tower untrained, its BatchNormalization statistics settled on
    # the photos as after training: what training adds beyond that.
    untrained = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(32, 32, 3),
        weights=None,
        dense_units=32,
        embedding_dim=16,
    )
    untrained.build((None, 32, 32, 3))
    settle_batch_norm(untrained, load_images(photos, size=(32, 32)).images)

    trained_margins = _margins(model, photos)
    untrained_margins = _margins(untrained, photos)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Measured with TensorFlow (30 steps of the NT-Xent loss, 60 s on 2 busy
    # cores): the copy's nearest original is its own for 11 of the 12 photos
    # (smallest margin -0.006, median 0.37), against 7 untrained.
    assert np.sum(trained_margins > 0) >= 10, trained_margins
    assert np.sum(untrained_margins > 0) < 10, untrained_margins


def test_saved_model_reloads_with_the_same_embeddings(tmp_path, rng):
    images = rng.integers(0, 256, (6, 16, 16, 3)).astype(np.uint8)
    model, _ = train_duplicates_model(
        images, image_size=(16, 16), config=TINY, verbose=0
    )
    model.save(tmp_path / "duplicates.keras")
    loaded = keras.models.load_model(tmp_path / "duplicates.keras", safe_mode=True)
    np.testing.assert_allclose(
        siamesekit.Comparator(loaded, precision="float32").embed(images),
        siamesekit.Comparator(model, precision="float32").embed(images),
        atol=1e-5,
    )
    assert loaded.tower.image_shape == (16, 16, 3)


@pytest.fixture
def folder(tmp_path, rng):
    """5 random RGB images in a folder and a subfolder, and one broken file."""
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    for index in range(5):
        where = root / "trip" if index % 2 else root
        pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        cv2.imwrite(str(where / f"{index}.png"), pixels)
    (root / "broken.jpg").write_bytes(b"not a JPEG")
    return root


@pytest.mark.backend_neutral
def test_a_folder_is_read_with_its_subfolders_and_broken_files_listed(folder):
    skipped = r"(?s)Skipped 1 unreadable image.*broken\.jpg"
    with pytest.warns(UserWarning, match=skipped):
        model, _ = train_duplicates_model(
            folder, image_size=(16, 16), config=TINY, verbose=0
        )
    assert model.tower.image_shape == (16, 16, 3)


@pytest.mark.backend_neutral
def test_bad_input_gives_typed_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no image files"):
        train_duplicates_model(tmp_path / "empty")
    with pytest.raises(DatasetError, match="is not a folder"):
        train_duplicates_model(tmp_path / "missing")
    with pytest.raises(DatasetError, match="needs at least 2 images.*got 1"):
        train_duplicates_model(np.zeros((1, 8, 8, 3)), image_size=(8, 8))
    with pytest.raises(DatasetError, match="got none"):
        train_duplicates_model([])
    with pytest.raises(InvalidArgumentError, match="Received: image_size=0"):
        train_duplicates_model(np.zeros((4, 8, 8, 3)), image_size=0)
    with pytest.raises(InvalidArgumentError, match="Received: channels=2"):
        train_duplicates_model(np.zeros((4, 8, 8, 3)), channels=2)
    no_views = dataclasses.replace(TINY, augment=None)
    with pytest.raises(InvalidArgumentError, match="Received: augment=None"):
        train_duplicates_model(
            np.zeros((4, 8, 8, 3)), image_size=(8, 8), config=no_views
        )


@pytest.mark.backend_neutral
def test_cli_trains_and_saves_a_duplicates_model(folder, tmp_path, capsys):
    out = tmp_path / "m.keras"
    arguments = ["train", "--duplicates", str(folder), "--out", str(out)]
    options = ["--size", "16", "16", "--epochs", "1", "--quiet"]
    assert cli.main(arguments + options) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"Saved {out} (duplicates model, 16x16x3, 1 epochs")
    assert "warning: skipped: " in captured.err and "broken.jpg" in captured.err
    assert keras.models.load_model(out, safe_mode=True).tower.image_shape == (
        16,
        16,
        3,
    )
    assert not (tmp_path / "m.keras.backup").exists()


@pytest.mark.backend_neutral
def test_cli_refuses_bad_input_in_one_line(folder, tmp_path, capsys):
    out = tmp_path / "m.keras"
    out.write_bytes(b"the user's precious model")
    assert cli.main(["train", "--duplicates", str(folder), "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"the user's precious model"

    (tmp_path / "empty").mkdir()
    (tmp_path / "one").mkdir()
    cv2.imwrite(str(tmp_path / "one" / "a.png"), np.zeros((8, 8), np.uint8))
    new = str(tmp_path / "new.keras")
    for arguments, message in (
        (["--duplicates", str(tmp_path / "empty")], "holds no image files"),
        (["--duplicates", str(tmp_path / "one")], "needs at least 2 images"),
        (["--duplicates", str(tmp_path / "none")], "does not exist"),
        ([str(folder), "--duplicates", str(folder)], "not both, not neither"),
        ([], "not both, not neither"),
    ):
        assert cli.main(["train", *arguments, "--out", new]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and message in error, error

import cv2
import numpy as np
import pytest

from siamesekit.data import load_image_folder, pair_dataset_from_directory
from siamesekit.errors import DatasetError, ImageError, InvalidArgumentError

# Runs once, under TensorFlow: file reading, the same on every backend.
pytestmark = pytest.mark.backend_neutral


def write_folder(root, identities=3, images_per_identity=2):
    for identity in range(identities):
        folder = root / f"id{identity}"
        folder.mkdir()
        for index in range(images_per_identity):
            pixels = np.full((10, 8), 40 * identity + index, np.uint8)
            cv2.imwrite(str(folder / f"{index}.png"), pixels)
    return root


def test_reads_every_identity_resized(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image, and not in a subfolder")
    folder = load_image_folder(tmp_path, size=(5, 4), channels=1)
    assert folder.images.shape == (6, 5, 4, 1) and folder.images.dtype == np.uint8
    assert list(folder.labels) == ["id0", "id0", "id1", "id1", "id2", "id2"]
    assert folder.images[3, 0, 0, 0] == 41
    assert folder.skipped == []


def test_unreadable_files_are_skipped_with_a_warning_or_raise(tmp_path):
    write_folder(tmp_path)
    broken = tmp_path / "id1" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    with pytest.warns(
        UserWarning, match="(?s)Skipped 1 unreadable.*broken.jpg.*truncated"
    ):
        folder = load_image_folder(tmp_path, size=(5, 4), channels=1)
    assert folder.skipped == [str(broken)] and len(folder.images) == 6
    with pytest.raises(ImageError, match="broken.jpg"):
        load_image_folder(tmp_path, size=(5, 4), on_error="raise")


def test_missing_or_empty_folders_raise(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_folder(tmp_path / "nowhere", size=(4, 4))
    (tmp_path / "empty_identity").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        load_image_folder(tmp_path, size=(4, 4))


def test_one_identity_folder_cannot_make_pairs(tmp_path):
    write_folder(tmp_path, identities=1, images_per_identity=3)
    with pytest.raises(DatasetError, match="at least two identities"):
        pair_dataset_from_directory(tmp_path, size=(4, 4), channels=1)


def test_pair_dataset_from_directory(tmp_path):
    write_folder(tmp_path, identities=3, images_per_identity=3)
    dataset = pair_dataset_from_directory(
        tmp_path, size=(6, 6), channels=3, batch_size=3, seed=0
    )
    (first, second), labels = next(iter(dataset))
    assert first.shape == (3, 6, 6, 3) and second.shape == (3, 6, 6, 3)
    # Same folder <=> the pixel values lie in the same band of 40.
    same = (first.numpy()[:, 0, 0, 0] // 40) == (second.numpy()[:, 0, 0, 0] // 40)
    np.testing.assert_array_equal(labels.numpy(), same.astype(np.float32))


def test_workers_must_be_a_positive_integer(tmp_path):
    write_folder(tmp_path)
    folder = load_image_folder(tmp_path, size=(5, 4), channels=1, workers=np.int64(1))
    assert folder.images.shape == (6, 5, 4, 1)
    for workers, shown in ((-1, "-1"), (0, "0"), (2.0, "2.0"), ("4", "'4'")):
        with pytest.raises(InvalidArgumentError) as caught:
            load_image_folder(tmp_path, size=(5, 4), workers=workers)
        assert str(caught.value) == (
            f"`workers` must be an integer >= 1 or None. Received: workers={shown}"
        )

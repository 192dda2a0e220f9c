"""`siamesekit train` always resumes: the backup outlives everything but the save."""

import json

import cv2
import numpy as np
import pytest

from siamesekit import cli
from siamesekit.evaluation import metrics
from siamesekit.training import StopOnNaN

# Runs once, under TensorFlow: the command around the recipe and its backup, which
# tests/training/test_recipe.py and test_callbacks.py train and resume on every backend.
pytestmark = pytest.mark.backend_neutral


class Killed(Exception):
    pass


@pytest.fixture
def faces(tmp_path):
    """4 identities x 4 images of 16x16 noise."""
    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for identity in range(4):
        (root / f"p{identity}").mkdir(parents=True)
        for index in range(4):
            pixels = rng.integers(0, 255, (16, 16), dtype=np.uint8)
            cv2.imwrite(str(root / f"p{identity}" / f"{index}.png"), pixels)
    return root


def train(faces, out, *more):
    return cli.main(
        ["train", str(faces), "--out", str(out), "--epochs", "2"]
        + ["--validation", "0.5", "--size", "16", "16", *more]
    )


def test_a_kill_before_the_save_resumes_after_training(
    faces, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "m.keras"
    trained_epochs = []
    on_epoch_begin = StopOnNaN.on_epoch_begin

    def recording(callback, epoch, logs=None):
        trained_epochs.append(epoch)
        on_epoch_begin(callback, epoch, logs)

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(StopOnNaN, "on_epoch_begin", recording)
    with monkeypatch.context() as patch:
        # The CLI turns unexpected errors into one line; let the kill through.
        patch.setenv("SIAMESEKIT_DEBUG", "1")
        patch.setattr(metrics, "evaluate_verification", killed)
        with pytest.raises(Killed):
            train(faces, out)
    assert trained_epochs == [0, 1]
    backup = tmp_path / "m.keras.backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    capsys.readouterr()
    # Both epochs were done: the rerun only evaluates and saves.
    assert train(faces, out) == 0
    assert f"Resuming from the backup in {backup}" in capsys.readouterr().out
    assert trained_epochs == [0, 1]
    assert out.is_file() and not backup.exists()


def test_a_restart_with_another_size_names_the_difference(faces, tmp_path, capsys):
    out = tmp_path / "m.keras"
    backup = tmp_path / "m.keras.backup"
    backup.mkdir()
    (backup / "settings.json").write_text(json.dumps({"image_shape": [12, 12, 1]}))
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    (backup / "latest.weights.h5").write_bytes(b"weights")
    assert train(faces, out) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "image_shape [12, 12, 1] there, [16, 16, 1] now" in error
    assert error.strip().endswith(f"rm -r {backup}")


def test_a_backup_dir_that_is_a_file_is_refused_before_reading_images(
    faces, tmp_path, capsys
):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("the user's notes")
    assert train(faces, tmp_path / "m.keras", "--backup-dir", str(a_file)) == 2
    captured = capsys.readouterr()
    assert "Read" not in captured.out
    assert captured.err == (
        f"siamesekit train: error: The backup folder {a_file} is an existing "
        "file; choose another backup folder (--backup-dir) or move the file away.\n"
    )
    assert a_file.read_text() == "the user's notes"

import cv2
import keras
import numpy as np
import pytest

import siamesekit
from siamesekit import cli

# Runs once, under TensorFlow: the commands around the recipe and the metrics, which
# tests/training and tests/evaluation run on every backend.
pytestmark = pytest.mark.backend_neutral


@pytest.fixture
def faces(tmp_path):
    """4 identities x 4 images; each identity has its own bright square."""
    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for identity in range(4):
        (root / f"p{identity}").mkdir(parents=True)
        for index in range(4):
            pixels = rng.integers(0, 60, (16, 16), dtype=np.uint8)
            row, column = divmod(identity, 2)
            pixels[row * 8 : row * 8 + 8, column * 8 : column * 8 + 8] += 150
            cv2.imwrite(str(root / f"p{identity}" / f"{index}.png"), pixels)
    return root


def test_train_then_evaluate(faces, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    status = cli.main(
        [
            "train",
            str(faces),
            "--out",
            str(model_path),
            "--size",
            "16",
            "16",
            "--epochs",
            "2",
            "--validation",
            "0.5",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0, output
    assert "Read 16 images of 4 identities" in output
    assert "Training on 2 identities, validating on 2 others." in output
    assert "Validation identities: ROC AUC" in output
    # stdout is not a terminal here: one line per epoch, no progress bars.
    assert "\r" not in output and "\x1b" not in output and "\u2501" not in output
    epochs = [line for line in output.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"], output
    summaries = [line for line in output.splitlines() if " - loss: " in line]
    assert len(summaries) == 2 and all("val_" in line for line in summaries), output
    model = keras.models.load_model(model_path, safe_mode=True)
    assert model.tower.image_shape == (16, 16, 1)
    assert model.threshold > 0
    assert not (tmp_path / "m.keras.backup").exists()

    plots = tmp_path / "plots"
    status = cli.main(["evaluate", str(model_path), str(faces), "--plots", str(plots)])
    output = capsys.readouterr().out
    assert status == 0
    # All pairs of 16 images: 120, of which 4 identities x 6 are the same.
    assert "on 120 pairs (24 same identity)" in output
    assert sorted(p.name for p in plots.iterdir()) == [
        "distances.png",
        "pairs.png",
        "roc.png",
    ]


def test_train_quiet_prints_only_the_results(faces, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    arguments = ["train", str(faces), "--out", str(model_path), "--quiet"]
    options = ["--size", "16", "16", "--epochs", "1", "--validation", "0.5"]
    assert cli.main(arguments + options) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("Validation identities: ROC AUC")
    assert lines[1].startswith(f"Saved {model_path} (threshold ")


def test_fit_verbosity(monkeypatch):
    from siamesekit.commands.train import fit_verbosity

    assert fit_verbosity(quiet=True) == 0
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert fit_verbosity(quiet=False) == 2
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert fit_verbosity(quiet=False) == 1


def test_train_never_overwrites_a_model_unless_asked(faces, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    model_path.write_bytes(b"the user's precious model")
    status = cli.main(["train", str(faces), "--out", str(model_path)])
    error = capsys.readouterr().err
    assert status == 2
    assert "already exists; pass --overwrite" in error
    assert model_path.read_bytes() == b"the user's precious model"


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    assert cli.main(["train", str(tmp_path / "none"), "--out", "x.keras"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path), "--out", "model.h5"]) == 2
    assert "must end in `.keras`" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "m.keras"), str(tmp_path)]) == 2
    assert "Model file not found" in capsys.readouterr().err


def test_evaluate_checks_its_folder_before_loading_the_model(tmp_path, capsys):
    model = siamesekit.create_siamese_model(
        (16, 16, 1), backbone="small_cnn", weights=None, embedding_dim=4
    )
    model.save(tmp_path / "m.keras")
    missing = str(tmp_path / "none")
    assert cli.main(["evaluate", str(tmp_path / "m.keras"), missing]) == 2
    # One line: no Keras warnings from loading the model first.
    assert capsys.readouterr().err == (
        f"siamesekit evaluate: error: The image folder {missing!r} does not exist "
        "or is not a directory. Pass a folder with one subfolder of images per "
        "identity.\n"
    )

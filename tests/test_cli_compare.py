import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import siamesekit
from siamesekit.cli import main


@pytest.fixture
def files(tmp_path, rng):
    model = siamesekit.create_siamese_model(
        (32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=8
    )
    model.save(tmp_path / "m.keras")
    image = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "b.png"), image[::-1])
    return tmp_path


def test_json_scores_and_figure(files, capsys):
    model, first, second = (str(files / n) for n in ("m.keras", "a.png", "b.png"))
    figure = str(files / "out.png")
    status = main(
        ["compare", first, second, "--model", model, "--json", "--out", figure]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    expected = siamesekit.Comparator.from_saved(model).compare(first, second)
    assert report["similarity"] == pytest.approx(expected.similarity, abs=0.01)
    assert report["distance"] == pytest.approx(expected.distance, rel=0.05)
    assert report["same"] == (report["distance"] < 0.5)
    assert report["figure"] == figure and cv2.imread(figure) is not None
    assert report["regions"] == [region._asdict() for region in expected.regions]
    for region in report["regions"]:
        assert set(region) == {"x", "y", "width", "height", "score"}


def test_plain_output_with_backbone(files, capsys):
    first, second = str(files / "a.png"), str(files / "a.png")
    arguments = ["compare", first, second, "--backbone", "small_cnn"]
    status = main(arguments + ["--weights", "none", "--input-size", "32", "32"])
    out = capsys.readouterr().out
    assert status == 0
    assert "similarity: 1.000000" in out and "distance:" in out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["missing.png", "a.png"], "missing.png"),
        (["a.png", "m.keras"], "m.keras"),
        (["a.png", "b.png", "--out", "a.png"], "input images"),
    ],
)
def test_bad_input_is_one_line_on_stderr(files, capsys, arguments, message):
    arguments = [
        str(files / a) if a.endswith((".png", ".keras")) else a for a in arguments
    ]
    status = main(["compare", *arguments, "--model", str(files / "m.keras")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1


def test_subprocess_exit_status_and_stderr(files):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "siamesekit.cli",
            "compare",
            str(files / "a.png"),
            str(files / "nope.png"),
            "--model",
            str(files / "m.keras"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    assert completed.returncode == 2
    assert "nope.png" in completed.stderr
    assert "Traceback" not in completed.stderr

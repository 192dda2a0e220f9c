import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import siamesekit
from siamesekit.cli import main

# Runs once, under TensorFlow: the command's argument handling and output; the
# Comparator it calls is tested on every backend in tests/comparator.
pytestmark = pytest.mark.backend_neutral


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
        timeout=120,
    )
    assert completed.returncode == 2
    assert "nope.png" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stderr.count("\n") == 1, completed.stderr


def _never_build(*args, **kwargs):
    raise AssertionError("the network was built before the arguments were checked")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["a.png", "nope.png"], "image 2: image file not found: "),
        (["a.png", "."], "image 2: '.' is a folder; pass the path of an image file."),
        (["a.png", "/dev/null"], "is not a regular file (a device or a pipe)"),
        (["a.png", "b.png", "--out", "."], "--out '.' is a folder; give a file name"),
        (["a.png", "b.png", "--out", "f.xyz"], "must end in a figure format, one of"),
        (["a.png", "b.png", "--out", "no/f.png"], "does not exist; create it first."),
        (["a.png", "b.png", "--model", "t.keras"], "is not a valid .keras model file"),
        (["a.png", "b.png", "--model", "."], "'.' is a folder; pass a .keras model"),
    ],
)
def test_inputs_and_outputs_are_checked_before_any_network(
    files, capsys, monkeypatch, arguments, message
):
    # Without --model this is VGG16 with ImageNet weights: a download.
    monkeypatch.setattr("siamesekit.compare.build_comparator", _never_build)
    monkeypatch.chdir(files)
    (files / "t.keras").write_text("a text file, not a model\n")
    assert main(["compare", *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert captured.err.startswith("siamesekit compare: error: ")
    assert captured.err.count("\n") == 1
    # Nothing written: no "..png" or "f.png" next to the inputs.
    assert sorted(os.listdir(files)) == ["a.png", "b.png", "m.keras", "t.keras"]


def test_a_model_whose_output_is_a_feature_map_is_refused(files, capsys):
    import keras

    inputs = keras.Input((32, 32, 3))
    feature_map = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    keras.Model(inputs, feature_map).save(files / "map.keras")
    arguments = ["compare", str(files / "a.png"), str(files / "b.png")]
    assert main([*arguments, "--model", str(files / "map.keras")]) == 2
    error = capsys.readouterr().err
    assert "maps an image to an output of shape (32, 32, 4), not to an embedding" in (
        error
    )
    assert error.count("\n") == 1


def test_json_is_strict_when_the_scores_are_not_numbers(files, capsys):
    model = siamesekit.create_siamese_model(
        (32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=4
    )
    for variable in model.tower.trainable_variables:
        variable.assign(np.full(variable.shape, np.nan, dtype="float32"))
    model.save(files / "nan.keras")
    arguments = ["compare", str(files / "a.png"), str(files / "b.png"), "--json"]
    assert main([*arguments, "--model", str(files / "nan.keras")]) == 0
    out = capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    report = json.loads(out, parse_constant=refuse)
    # NaN weights give NaN embeddings: no similarity, no distance.
    assert report["similarity"] is None and report["distance"] is None


def test_strict_json_turns_non_finite_numbers_into_null():
    from siamesekit.commands.checks import strict_json

    value = {
        "a": float("nan"),
        "b": [np.float32("inf"), 1.5, -float("inf")],
        "c": np.float64(2.0),
        "d": {"e": np.array([np.nan, 3.0])},
        "f": True,
    }
    assert strict_json(value) == (
        '{"a": null, "b": [null, 1.5, null], "c": 2.0, "d": {"e": [null, 3.0]}, '
        '"f": true}'
    )


def test_input_size_is_bounded_before_any_network(files, capsys):
    arguments = ["compare", str(files / "a.png"), str(files / "b.png")]
    with pytest.raises(SystemExit) as exit:
        main([*arguments, "--input-size", "20000", "20000"])
    assert exit.value.code == 2
    assert capsys.readouterr().err == (
        "siamesekit compare: error: argument --input-size: must be at most 2048 "
        "pixels (larger inputs exhaust memory in the backbone). Received: 20000 "
        "(see siamesekit compare --help)\n"
    )


def test_compare_choices_match_the_comparator():
    from siamesekit.commands import choices
    from siamesekit.comparator.heatmaps import METHODS
    from siamesekit.comparator.precision import PRECISIONS

    assert choices.METHODS == METHODS
    assert choices.PRECISIONS == PRECISIONS


def test_search_choices_match_the_library():
    from siamesekit.commands import choices
    from siamesekit.search.duplicates import DEFAULT_MIN_SIMILARITY
    from siamesekit.search.index import KINDS

    assert choices.INDEX_KINDS == KINDS
    assert choices.DEFAULT_MIN_SIMILARITY == DEFAULT_MIN_SIMILARITY

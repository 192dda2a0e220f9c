import os

import numpy as np
import pytest
from matplotlib.image import imread

from siamesekit import cli


def test_demo_refuses_to_replace_an_earlier_demo_unless_asked(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    (tmp_path / "roc.png").write_text("an earlier demo's plot")
    assert cli.main(["demo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"siamesekit demo: error: {tmp_path} already holds roc.png from an earlier "
        "demo; pass --overwrite to replace them, or choose a new --out folder.\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["keep.txt", "roc.png"]
    assert (tmp_path / "roc.png").read_text() == "an earlier demo's plot"


def test_demo_refuses_a_file_as_its_folder(tmp_path, capsys):
    (tmp_path / "out").write_text("mine")
    assert cli.main(["demo", "--out", str(tmp_path / "out")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "out").read_text() == "mine"


# `make demo` runs on the default backend; its parts (recipe, Comparator,
# figures) are tested on every backend.
@pytest.mark.backend_neutral
@pytest.mark.slow
def test_demo_runs_twice_and_replaces_only_its_own_files(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "notes.txt").write_text("the user's notes")
    assert cli.main(["demo", "--out", str(out), "--epochs", "1"]) == 0
    output = capsys.readouterr().out
    assert "Unseen digits 7-9: ROC AUC" in output
    expected = [
        "comparison.png",
        "comparison_same.png",
        "distances.png",
        "model.keras",
        "notes.txt",
        "pairs.png",
        "roc.png",
    ]
    assert sorted(os.listdir(out)) == expected
    figure = imread(out / "comparison.png")
    assert figure.shape[0] > 100 and np.ptp(figure) > 0

    # As `make demo` runs it, a second time.
    arguments = ["demo", "--out", str(out), "--epochs", "1", "--overwrite"]
    assert cli.main(arguments + ["--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Unseen digits 7-9: ROC AUC")
    assert sorted(os.listdir(out)) == expected
    assert (out / "notes.txt").read_text() == "the user's notes"

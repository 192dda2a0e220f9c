import os

import numpy as np
import pytest
from matplotlib.image import imread

from siamesekit import cli


def test_demo_refuses_a_folder_with_files(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert cli.main(["demo", "--out", str(tmp_path)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["keep.txt"]


@pytest.mark.slow
def test_demo_trains_evaluates_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--epochs", "2"]) == 0
    output = capsys.readouterr().out
    assert "Unseen digits 7-9: ROC AUC" in output
    assert sorted(os.listdir(out)) == [
        "comparison.png",
        "comparison_same.png",
        "distances.png",
        "model.keras",
        "pairs.png",
        "roc.png",
    ]
    figure = imread(out / "comparison.png")
    assert figure.shape[0] > 100 and np.ptp(figure) > 0

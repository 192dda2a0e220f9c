"""The examples run again without stopping on, or replacing, earlier results."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

from output_folder import output_folder  # noqa: E402

OWN = ("model.keras", "roc.png")


def test_without_out_a_second_run_takes_the_next_numbered_folder(tmp_path):
    default = str(tmp_path / "results")
    assert output_folder(None, default, OWN, overwrite=False) == default
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("not a result")
    assert output_folder(None, default, OWN, overwrite=False) == default
    (tmp_path / "results" / "roc.png").write_text("run 1")
    assert output_folder(None, default, OWN, overwrite=False) == default + "_2"
    (tmp_path / "results_2").mkdir()
    (tmp_path / "results_2" / "model.keras").write_text("run 2")
    assert output_folder(None, default, OWN, overwrite=False) == default + "_3"


def test_an_explicit_out_with_results_needs_overwrite(tmp_path):
    (tmp_path / "roc.png").write_text("run 1")
    with pytest.raises(FileExistsError, match="holds roc.png from an earlier run"):
        output_folder(str(tmp_path), "unused", OWN, overwrite=False)
    assert output_folder(str(tmp_path), "unused", OWN, overwrite=True) == str(tmp_path)

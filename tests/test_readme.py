"""Every Python block of README.md runs as written, then its `siamesekit compare`."""

import pathlib
import re
import shlex

import keras
import pytest

from siamesekit import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.slow
def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    python_blocks = blocks("python")
    assert python_blocks, "README.md has no Python example"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in python_blocks:
        if "align_faces(" in block and keras.backend.backend() != "tensorflow":
            continue  # MTCNN runs on the TensorFlow backend only, as it says
        exec(compile(block, str(README), "exec"), namespace)

    # The shell examples that use the files the Python examples wrote.
    commands = [
        line
        for block in blocks("bash")
        for line in block.splitlines()
        if line.startswith(("siamesekit compare", "siamesekit index"))
        or line.startswith(("siamesekit search", "siamesekit duplicates"))
        or line.startswith("siamesekit train --duplicates")
    ]
    assert commands
    for command in commands:
        assert cli.main(shlex.split(command.split("#")[0])[1:]) == 0, command
    assert (tmp_path / "figure.png").is_file()
    assert (tmp_path / "duplicates.html").is_file()
    assert '"similarity"' in capsys.readouterr().out

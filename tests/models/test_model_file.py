"""Model files are checked before Keras reads them: hostile ones are refused."""

import json
import os
import subprocess
import sys
import tempfile
import zipfile

import keras
import numpy as np
import pytest

import siamesekit
from siamesekit import cli
from siamesekit.compare import build_comparator
from siamesekit.errors import ModelFileError
from siamesekit.layers import embedding_tower
from siamesekit.models import model_file
from siamesekit.models.model_file import load_model_file


@pytest.fixture
def saved(tmp_path):
    """A small trained-looking model file and its members."""
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(16, 16, 1),
        weights=None,
        dense_units=4,
        embedding_dim=4,
        test_time_zooms=None,
    )
    model = siamesekit.SiameseModel(tower, threshold=0.5)
    model.compile(optimizer="adam", loss=siamesekit.ContrastiveLoss())
    model.build((None, 16, 16, 1))
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return path, members, model


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def with_config(tmp_path, members, edit, name="hostile.keras"):
    config = json.loads(members["config.json"])
    edit(config)
    return write_zip(
        tmp_path / name, {**members, "config.json": json.dumps(config).encode()}
    )


def lambda_layer(config):
    config["compile_config"]["loss"] = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"function": "print"},
    }


def os_system_as_tower(config):
    config["config"]["tower"] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "touch PWNED"},
        "registered_name": "system",
    }


def serialized_lambda(config):
    config["config"]["tower"]["config"]["activation"] = {
        "class_name": "__lambda__",
        "config": {"code": "4wAAAA==", "defaults": None, "closure": None},
    }


def saved_model_layer(config):
    config["config"]["tower"] = {
        "module": "keras.layers",
        "class_name": "TFSMLayer",
        "config": {"filepath": "/tmp/somewhere", "call_endpoint": "serve"},
    }


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda_layer, "Lambda"),
        (os_system_as_tower, "'system' from module 'os'"),
        (serialized_lambda, "__lambda__"),
        (saved_model_layer, "TFSMLayer"),
    ],
)
def test_code_in_the_config_is_refused_by_every_entry_point(
    saved, tmp_path, monkeypatch, capsys, edit, named
):
    _, members, _ = saved
    path = with_config(tmp_path, members, edit)
    monkeypatch.chdir(tmp_path)
    for load in (
        lambda: load_model_file(path),
        # Not restoring the training configuration is no way around it.
        lambda: load_model_file(path, compile=False),
        lambda: siamesekit.Comparator.from_saved(path),
        lambda: build_comparator(model=path),
    ):
        with pytest.raises(ModelFileError, match=f"Refused .*{named}"):
            load()
    assert cli.main(["evaluate", str(path), str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error
    assert not (tmp_path / "PWNED").exists()


def test_members_beyond_the_three_of_a_model_file_are_refused(
    saved, tmp_path, monkeypatch
):
    _, members, _ = saved
    # Nothing may be extracted, into a temporary folder or next to the file.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    for extra, message in (
        ({"../escaped.txt": b"x"}, "unexpected members \\['../escaped.txt'\\]"),
        ({"assets/x.txt": b"x"}, "unexpected members \\['assets/x.txt'\\]"),
        ({"config.json": b"{}"}, "a member name twice"),
    ):
        path = tmp_path / "extra.keras"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in list(members.items()) + list(extra.items()):
                archive.writestr(name, data)
        with pytest.raises(ModelFileError, match=message):
            load_model_file(path)
    assert os.listdir(tmp_path / "tmp") == []
    assert sorted(os.listdir(tmp_path)) == ["extra.keras", "model.keras", "tmp"]


def test_a_failed_load_leaves_no_temporary_folder(saved, tmp_path, monkeypatch):
    _, members, _ = saved
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def wider_tower(config):
        config["config"]["tower"]["config"]["dense_units"] = 8

    path = with_config(tmp_path, members, wider_tower)
    with pytest.raises(ModelFileError, match="Could not load the model file"):
        load_model_file(path)
    assert os.listdir(tmp_path / "tmp") == []


def test_oversized_members_are_refused_from_their_declared_size(
    saved, tmp_path, monkeypatch
):
    _, members, _ = saved
    # 65 MiB of zeros deflate to about 65 KiB: over 100 times smaller.
    bomb = write_zip(
        tmp_path / "bomb.keras",
        {**members, "model.weights.h5": bytes(65 * 2**20)},
        zipfile.ZIP_DEFLATED,
    )
    with pytest.raises(ModelFileError, match="65.0 MiB stored in .*bomb"):
        load_model_file(bomb)
    # Stored as Keras stores it, but 20 MiB of padding more than the model's
    # few variables (and their optimizer slots) can fill.
    weights = members["model.weights.h5"]
    padded = write_zip(
        tmp_path / "padded.keras",
        {**members, "model.weights.h5": weights + bytes(20 * 2**20)},
    )
    with pytest.raises(ModelFileError, match="the weights of its model can take"):
        load_model_file(padded)
    # The weights limit itself, lowered to below this model's weights.
    size = len(members["model.weights.h5"])
    monkeypatch.setitem(model_file._MEMBER_LIMITS, "model.weights.h5", size - 1)
    with pytest.raises(ModelFileError, match="model.weights.h5 declares"):
        load_model_file(tmp_path / "model.keras")


HUGE_CONFIG_SCRIPT = """
import resource, sys, zipfile
from siamesekit.errors import ModelFileError
from siamesekit.models.model_file import load_model_file
path = sys.argv[1]
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("metadata.json", "{}")
    archive.writestr("model.weights.h5", b"")
    # 200 MiB of spaces, written 1 MiB at a time.
    with archive.open("config.json", "w", force_zip64=True) as member:
        for _ in range(200):
            member.write(b" " * 2**20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_model_file(path)
except ModelFileError as error:
    message = str(error)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(after - before, message)
"""


def test_a_huge_declared_config_is_refused_without_reading_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", HUGE_CONFIG_SCRIPT, str(tmp_path / "huge.keras")],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(siamesekit.__file__)),
    )
    growth_kib, message = result.stdout.strip().split(" ", 1)
    assert os.path.getsize(tmp_path / "huge.keras") < 2**20
    assert "config.json declares 200.0 MiB, more than the 16.0 MiB" in message
    # Reading the member would have grown the peak by 200 MiB.
    assert int(growth_kib) < 20 * 1024


def test_loading_never_downloads_or_reads_the_towers_original_weights(
    saved, tmp_path, monkeypatch, rng
):
    _, members, model = saved

    def imagenet_tower(config):
        config["config"]["tower"]["config"]["weights"] = "imagenet"

    path = with_config(tmp_path, members, imagenet_tower)
    asked = []
    build_backbone = embedding_tower.build_backbone

    def recording_build_backbone(spec, shape, weights):
        asked.append(weights)
        return build_backbone(spec, shape, weights)

    monkeypatch.setattr(embedding_tower, "build_backbone", recording_build_backbone)
    loaded = load_model_file(path)
    assert asked == [None]
    images = rng.uniform(0, 255, (2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.tower(images)),
        keras.ops.convert_to_numpy(model.tower(images)),
        atol=1e-6,
    )


def test_a_file_that_is_not_a_zip_gets_a_typed_error(tmp_path):
    path = tmp_path / "text.keras"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="text.keras as a zip archive"):
        load_model_file(path)

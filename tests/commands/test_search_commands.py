"""`siamesekit index`, `search` and `duplicates`, run as a user would."""

import json
import os
import re

import cv2
import pytest
import skimage.data

import siamesekit
from siamesekit.cli import main


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """Four photos, a JPEG copy, a byte copy, an unreadable file; a model."""
    folder = tmp_path_factory.mktemp("gallery")
    (folder / "photos" / "copies").mkdir(parents=True)
    photos = {
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
    }
    for name, image in photos.items():
        small = cv2.resize(image, (48, 48), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / "photos" / f"{name}.png"), small[..., ::-1])
    astronaut = cv2.imread(str(folder / "photos" / "astronaut.png"))
    cv2.imwrite(
        str(folder / "photos" / "copies" / "astronaut.jpg"),
        astronaut,
        [cv2.IMWRITE_JPEG_QUALITY, 50],
    )
    (folder / "photos" / "copies" / "rocket.png").write_bytes(
        (folder / "photos" / "rocket.png").read_bytes()
    )
    (folder / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    model = siamesekit.create_siamese_model(
        (32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=8
    )
    model.save(folder / "m.keras")
    return folder


def test_index_then_search_finds_each_image_and_its_copy(
    gallery, tmp_path, capsys, monkeypatch
):
    photos, model = str(gallery / "photos"), str(gallery / "m.keras")
    index_file = str(tmp_path / "gallery.index")
    assert main(["index", photos, "--model", model, "--out", index_file, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 6 and summary["added"] == 6
    assert [item["id"] for item in summary["skipped"]] == [
        os.path.join(photos, "broken.jpg")
    ]
    query = os.path.join(photos, "copies", "rocket.png")
    # From another folder: the index knows where its model is.
    monkeypatch.chdir(tmp_path)
    assert main(["search", index_file, query, "-k", "2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)[0]["results"]
    assert {item["id"] for item in found} == {
        query,
        os.path.join(photos, "rocket.png"),
    }
    similarities = [item["similarity"] for item in found]
    assert similarities == pytest.approx([1.0, 1.0], abs=1e-3), similarities


def test_index_update_embeds_only_what_changed(gallery, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut.png", "coffee.png", "rocket.png"):
        (photos / name).write_bytes((gallery / "photos" / name).read_bytes())
    model, index_file = str(gallery / "m.keras"), str(tmp_path / "g.index")
    arguments = ["index", str(photos), "--model", model, "--out", index_file]
    assert main(arguments) == 0
    capsys.readouterr()
    # Asked before replacing an existing index.
    assert main(arguments) == 2
    assert "--update" in capsys.readouterr().err
    (photos / "coffee.png").unlink()
    (photos / "motorcycle.png").write_bytes(
        (gallery / "photos" / "motorcycle.png").read_bytes()
    )
    assert main(arguments + ["--update"]) == 0
    out = capsys.readouterr().out
    assert "3 images (1 added, 0 updated, 2 unchanged, 1 removed)" in out


def test_duplicates_prints_groups_and_writes_a_report(gallery, tmp_path, capsys):
    photos, model = str(gallery / "photos"), str(gallery / "m.keras")
    report = str(tmp_path / "duplicates.html")
    arguments = ["duplicates", photos, "--model", model, "--min-similarity", "0.9999"]
    assert main(arguments + ["--json", "--report", report]) == 0
    result = json.loads(capsys.readouterr().out)
    groups = [
        sorted(member["id"] for member in group["members"])
        for group in result["groups"]
    ]
    assert [
        os.path.join(photos, "copies", "rocket.png"),
        os.path.join(photos, "rocket.png"),
    ] in groups
    page = open(report, encoding="utf-8").read()
    assert page.count("<img") >= 2 and "rocket.png" in page
    assert re.search(r"could not be read", page)
    # An existing report is not replaced without --overwrite.
    assert main(arguments + ["--report", report]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert os.path.getsize(report) > 0


@pytest.mark.backend_neutral  # the check is OpenCV; the model's use is above
def test_duplicates_verify_keeps_only_copies_whose_pixels_line_up(gallery, capsys):
    photos, model = str(gallery / "photos"), str(gallery / "m.keras")
    # -1 proposes every pair; the check keeps the astronaut and its JPEG
    # copy, and the rocket's byte copy is exact, found before any check.
    arguments = ["duplicates", photos, "--model", model, "--min-similarity", "-1"]
    assert main(arguments + ["--verify", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    groups = sorted(
        sorted(os.path.relpath(member["id"], photos) for member in group["members"])
        for group in result["groups"]
    )
    assert groups == [
        ["astronaut.png", os.path.join("copies", "astronaut.jpg")],
        [os.path.join("copies", "rocket.png"), "rocket.png"],
    ]
    assert result["verify"] == siamesekit.search.GeometricCheck().get_config()
    assert main(arguments + ["--verify"]) == 0
    assert "each pair verified" in capsys.readouterr().out


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["search", "{photos}/rocket.png", "{photos}/rocket.png"], "not a zip"),
        (["search", "{tmp}/missing.index", "{photos}/rocket.png"], "does not exist"),
        (["search", "{tmp}/x.index", "{photos}/rocket.png", "-k", "0"], "-k"),
        (["duplicates", "{tmp}/none", "--model", "{model}"], "not a folder"),
        (["duplicates", "{photos}", "--min-similarity", "1.5"], "-1 to 1"),
        (
            ["duplicates", "{photos}", "--model", "{model}", "--verify-below", "0.9"],
            "verify is not set",
        ),
        (
            ["index", "{tmp}", "--out", "{tmp}/g.index", "--model", "{model}"],
            "no image",
        ),
        (["index", "{photos}", "--out", "{tmp}", "--model", "{model}"], "is a folder"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(
    gallery, tmp_path, capsys, arguments, message
):
    values = {
        "photos": gallery / "photos",
        "model": gallery / "m.keras",
        "tmp": tmp_path,
    }
    try:
        status = main([argument.format(**values) for argument in arguments])
    except SystemExit as usage_error:  # argparse's own checks
        status = usage_error.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err

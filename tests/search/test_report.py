"""The duplicates report: with a verified search, the heatmap compares the
representative with its copy put back in place."""

import base64
import pathlib
import re

import cv2
import numpy as np
import pytest
import skimage.data

import siamesekit
from siamesekit.search import find_duplicates
from siamesekit.search.report import write_duplicates_report


@pytest.fixture(scope="module")
def comparator():
    tower = siamesekit.EmbeddingTower(
        input_shape=(32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=8
    )
    return siamesekit.Comparator(tower, progress=False)


def _page(report, path, comparator) -> str:
    """The HTML the report writes to `path`."""
    return pathlib.Path(write_duplicates_report(report, path, comparator)).read_text(
        encoding="utf-8"
    )


def test_a_verified_report_aligns_the_copy_before_its_heatmap(comparator, tmp_path):
    camera = skimage.data.camera()
    cv2.imwrite(str(tmp_path / "camera.png"), camera)
    cv2.imwrite(str(tmp_path / "crop.png"), camera[51:461, 40:450])
    # -1 proposes the pair whatever the random tower says; the check confirms.
    report = find_duplicates(tmp_path, comparator, min_similarity=-1, verify=True)
    assert [len(group) for group in report.groups] == [2]
    page = _page(report, tmp_path / "report.html", comparator)
    # Whichever image represents the group, the other shows the content
    # 512 / 410 = 1.25 times larger or smaller, unturned.
    scale = 1.25 if report.groups[0].representative.endswith("camera.png") else 0.80
    assert f"aligned first (scale {scale:.2f}, turned" in page
    assert page.count("data:image/jpeg;base64,") == 3  # two thumbnails, a heatmap


def test_an_unverified_report_compares_the_images_as_they_are(comparator, tmp_path):
    camera = skimage.data.camera()
    cv2.imwrite(str(tmp_path / "camera.png"), camera)
    cv2.imwrite(str(tmp_path / "copy.jpg"), camera, [cv2.IMWRITE_JPEG_QUALITY, 40])
    report = find_duplicates(tmp_path, comparator, min_similarity=-1)
    page = _page(report, tmp_path / "report.html", comparator)
    assert "where they differ" in page and "aligned first" not in page


def test_the_heatmap_keeps_the_photos_shape_not_the_towers(comparator, tmp_path):
    # The tower sees 32 x 32; the page shows the heatmap over the 451 x 300
    # copy, shrunk to the thumbnails' 180 pixels: 180 x round(300 * 180 / 451).
    chelsea = cv2.cvtColor(skimage.data.chelsea(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "chelsea.png"), chelsea)
    cv2.imwrite(str(tmp_path / "copy.jpg"), chelsea, [cv2.IMWRITE_JPEG_QUALITY, 40])
    report = find_duplicates(tmp_path, comparator, min_similarity=-1)
    page = _page(report, tmp_path / "report.html", comparator)
    (encoded,) = re.findall(
        r'data:image/jpeg;base64,([^"]+)" alt="difference heatmap"', page
    )
    heatmap = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), np.uint8), 1)
    assert heatmap.shape == (120, 180, 3)

"""find_duplicates: exact copies, star groups that never chain, bad input."""

import cv2
import numpy as np
import pytest
import skimage.data

import siamesekit
from siamesekit.errors import DatasetError, InvalidArgumentError
from siamesekit.search import Index, find_duplicates, group_duplicates
from tests.search.test_index import _pixel_comparator


def _on_a_circle(degrees):
    """Unit vectors in a plane, at the given angles: cos(a - b) apart."""
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians), 0 * radians], axis=1)


@pytest.mark.backend_neutral
def test_groups_do_not_chain():
    # A chain: each image is 20 degrees from the next, the threshold admits
    # 25 degrees. Connected components would make one group of all four;
    # A (0) and D (60) are cos(60) = 0.5 apart.
    index = Index(dim=3)
    index.add_embeddings(_on_a_circle([0, 20, 40, 60]), ["A", "B", "C", "D"])
    threshold = np.cos(np.radians(25))
    groups = group_duplicates(index, threshold)
    # B and C have two neighbours each; B comes first. D's one neighbour, C,
    # is taken, so D is left alone rather than chained in.
    assert len(groups) == 1 and groups[0].representative == "B"
    assert sorted(groups[0].ids) == ["A", "B", "C"]
    cos_20 = np.cos(np.radians(20))
    np.testing.assert_allclose(groups[0].similarities, [1.0, cos_20, cos_20], atol=1e-6)
    for group in groups:
        members = index.embeddings_of(list(group.ids))
        assert np.all(members @ members[0] >= threshold - 1e-6)


@pytest.mark.backend_neutral
def test_the_image_with_most_copies_heads_the_group():
    # E has three near copies; F is near only one of them.
    index = Index(dim=3)
    index.add_embeddings(
        _on_a_circle([30, 0, 40, 22, 18]), ["F", "E", "E1", "E2", "E3"]
    )
    groups = group_duplicates(index, np.cos(np.radians(25)))
    # E2 (22) and E3 (18) are each within 25 degrees of the four others;
    # E2 was added first.
    assert groups[0].representative == "E2"
    assert sorted(groups[0].ids) == ["E", "E1", "E2", "E3", "F"]


@pytest.mark.backend_neutral
def test_lone_images_form_no_group():
    index = Index(dim=3)
    index.add_embeddings(np.eye(3), ["a", "b", "c"])
    assert group_duplicates(index, 0.5) == []


def _write(path, image, jpeg_quality=None):
    params = [] if jpeg_quality is None else [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    return str(path)


def test_a_folder_gives_exact_and_near_copies_and_lists_unreadable_files(tmp_path):
    astronaut = cv2.resize(
        skimage.data.astronaut(), (64, 64), interpolation=cv2.INTER_AREA
    )
    coffee = cv2.resize(skimage.data.coffee(), (64, 64), interpolation=cv2.INTER_AREA)
    original = _write(tmp_path / "astronaut.png", astronaut)
    (tmp_path / "copies").mkdir()
    exact = tmp_path / "copies" / "exact.png"
    exact.write_bytes((tmp_path / "astronaut.png").read_bytes())
    jpeg = _write(tmp_path / "copies" / "astronaut.jpg", astronaut, jpeg_quality=40)
    other = _write(tmp_path / "coffee.png", coffee)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    comparator = _pixel_comparator(side=16, channels=3)
    report = find_duplicates(tmp_path, comparator, min_similarity=0.95)
    assert report.num_images == 4
    assert [image_id for image_id, _ in report.skipped] == [
        str(tmp_path / "broken.jpg")
    ]
    assert len(report.groups) == 1
    group = report.groups[0]
    assert set(group.ids) == {original, str(exact), jpeg}
    assert other not in group.ids
    exact_ids = {i for i, is_exact in zip(group.ids, group.exact) if is_exact}
    assert exact_ids == {group.ids[1]} and group.similarities[1] == 1.0
    assert report.as_dict()["groups"][0]["representative"] == group.representative


def test_an_empty_or_unreadable_folder_is_a_clear_error(tmp_path):
    comparator = _pixel_comparator()
    with pytest.raises(DatasetError, match="holds no image files"):
        find_duplicates(tmp_path, comparator)
    (tmp_path / "a.png").write_bytes(b"junk")
    (tmp_path / "b.jpg").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="None of the 2 images could be read"):
        find_duplicates(tmp_path, comparator)
    with pytest.raises(InvalidArgumentError, match="needs a model"):
        find_duplicates([str(tmp_path / "a.png")])


@pytest.mark.backend_neutral
@pytest.mark.parametrize("threshold", [1.01, -2, float("nan"), "high", True])
def test_thresholds_outside_minus_one_to_one_are_refused(threshold):
    index = Index(dim=3)
    with pytest.raises(InvalidArgumentError, match=r"\[-1, 1\]"):
        find_duplicates(index, min_similarity=threshold)


@pytest.mark.backend_neutral
def test_too_many_similar_pairs_stop_with_an_error_not_a_full_memory():
    index = Index(dim=3)
    index.add_embeddings(np.ones((50, 3)), [str(i) for i in range(50)])
    with pytest.raises(InvalidArgumentError, match="raise min_similarity"):
        group_duplicates(index, 0.9, max_pairs=100)
    # The same index, within the budget, is one group of all 50.
    assert [len(group) for group in group_duplicates(index, 0.9)] == [50]


@pytest.mark.backend_neutral
def test_find_duplicates_accepts_a_filled_index_and_embeds_nothing():
    index = Index(dim=3)
    index.add_embeddings(_on_a_circle([0, 5, 90]), ["a", "a2", "b"])
    report = siamesekit.find_duplicates(index, min_similarity=0.99)
    assert [group.ids for group in report.groups] == [("a", "a2")]
    assert report.num_duplicates == 1 and report.skipped == []

"""GeometricCheck: copies moved, turned or recoloured line up; other photos
do not; and find_duplicates keeps only the pairs it confirms."""

import itertools

import cv2
import numpy as np
import pytest
import skimage.data

import siamesekit
from siamesekit.errors import ImageError, InvalidArgumentError
from siamesekit.search import GeometricCheck, Index, find_duplicates
from tests.search.test_index import _pixel_comparator

# The check is OpenCV and NumPy: the same on every backend.
pytestmark = pytest.mark.backend_neutral

CAMERA = skimage.data.camera()  # 512 x 512 grey


def _turned(pixels, degrees):
    """`pixels` turned about their centre, counter-clockwise as displayed."""
    height, width = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1)
    return cv2.warpAffine(pixels, matrix, (width, height))


@pytest.fixture(scope="module")
def check():
    return GeometricCheck()


def test_a_crop_is_found_at_the_scale_it_was_cut(check):
    crop = CAMERA[51:461, 40:450]  # 410 x 410, 80% of the side
    match = check.match(CAMERA, crop)
    assert match.matched and match.inliers >= check.min_inliers
    assert match.correlation > 0.9
    # Both are resized to 224 on their longer side: a point of the original
    # at 224/512 becomes one of the crop at 224/410, so the crop shows the
    # content 512/410 = 1.249 times larger, and unturned.
    assert match.scale == pytest.approx(512 / 410, rel=0.01)
    assert match.rotation_degrees == pytest.approx(0.0, abs=0.5)
    # The crop's top-left corner (40, 51) of the original maps to (0, 0).
    corner = match.transform @ np.array([40 * 224 / 512, 51 * 224 / 512, 1.0])
    np.testing.assert_allclose(corner, [0.0, 0.0], atol=1.5)


def test_align_puts_a_crop_back_where_it_was_cut(check):
    crop = CAMERA[51:461, 40:450]
    match, warped = check.align(CAMERA, crop)
    assert match.matched and warped.shape == (512, 512, 3)
    # The crop's pixel (x, y) is the original's (x + 40, y + 51): warped
    # back, the original's pixels inside the cut; outside it, where the crop
    # has none, the original's own, unchanged.
    inside = warped[61:451, 50:440, 0]
    error = np.abs(inside - CAMERA[61:451, 50:440]).mean()
    assert error < 4.0  # of 255 (1.2 measured); shifted 3 pixels: 13
    np.testing.assert_array_equal(warped[:45, :, 0], CAMERA[:45])
    np.testing.assert_array_equal(warped[:, 456:, 0], CAMERA[:, 456:])


def test_align_gives_no_image_when_nothing_lines_up(check):
    flat = np.full((64, 64), 128, np.uint8)
    match, warped = check.align(CAMERA, flat)
    assert not match.matched and warped is None


def test_a_turned_copy_is_found_with_its_angle(check):
    match = check.match(CAMERA, _turned(CAMERA, 5.0))
    assert match.matched
    assert match.rotation_degrees == pytest.approx(5.0, abs=0.3)
    assert match.scale == pytest.approx(1.0, abs=0.01)


def test_brightness_and_contrast_cancel_out(check):
    # 0.8 x + 30 stays within [0, 255], so nothing clips: the band-pass image
    # of the copy is 0.8 times the original's (the offset is removed by the
    # difference of Gaussians) and their correlation is 1 up to rounding.
    brighter = np.rint(CAMERA * 0.8 + 30).astype(np.uint8)
    match = check.match(CAMERA, brighter)
    assert match.matched and match.correlation > 0.995
    np.testing.assert_allclose(match.transform, np.eye(2, 3), atol=0.05)


def test_different_photos_do_not_match(check):
    astronaut = cv2.resize(skimage.data.astronaut(), (512, 512))
    coffee = skimage.data.coffee()
    for other in (astronaut, coffee):
        match = check.match(CAMERA, other)
        assert not match.matched and match.correlation < check.min_correlation


def _thumbnail(pixels, side):
    """`pixels` in grey, shrunk to `side` pixels on the longer side."""
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    height, width = pixels.shape
    factor = side / max(height, width)
    size = (round(width * factor), round(height * factor))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


THUMBNAILS = {
    name: _thumbnail(getattr(skimage.data, name)(), 32)
    for name in ("camera", "astronaut", "chelsea", "coins")
}


@pytest.mark.parametrize("name", sorted(THUMBNAILS))
def test_a_thumbnail_shrunk_to_half_is_a_copy(check, name):
    # Compared at the 16-pixel copy's own resolution, the thumbnail blurred
    # to its scale holds the same pixels up to resampling: 0.82-0.91
    # measured. At working size, enlarged 7 and 14 times, the band-pass
    # correlation of the same pairs is 0.58-0.69, under min_correlation.
    thumbnail = THUMBNAILS[name]
    copy = _thumbnail(thumbnail, 16)
    match = check.match(thumbnail, copy)
    assert match.matched and match.correlation >= check.min_small_correlation
    assert match.scale == pytest.approx(1.0, abs=0.05)  # both fill the frame


def test_thumbnails_of_different_photos_do_not_match(check):
    for first, second in itertools.combinations(sorted(THUMBNAILS), 2):
        match = check.match(THUMBNAILS[first], THUMBNAILS[second])
        assert not match.matched, (first, second)


@pytest.mark.parametrize("name", sorted(THUMBNAILS))
def test_a_thumbnail_under_a_lighting_ramp_matches_once_high_passed(check, name):
    # A Gaussian blur leaves a linear ramp as it is, so the high-pass removes
    # a ramp added to the copy (up to the border): 0.99 and more measured.
    # Unfiltered, the ramp dominates the halved contrast: 0.38-0.86.
    thumbnail = THUMBNAILS[name]
    height, width = thumbnail.shape
    ramp = np.tile(np.linspace(0, 120, width, dtype=np.float32), (height, 1))
    copy = np.clip(0.5 * thumbnail + ramp, 0, 255).astype(np.uint8)
    high_passed = check.match(thumbnail, copy)
    assert high_passed.matched and high_passed.correlation > 0.95
    unfiltered = GeometricCheck(small_high_pass=None).match(thumbnail, copy)
    assert unfiltered.inliers == high_passed.inliers  # the same alignment
    assert unfiltered.correlation < 0.9


def test_an_image_without_keypoints_is_no_match_and_no_error(check):
    flat = np.full((64, 64), 128, np.uint8)
    match = check.match(CAMERA, flat)
    assert not match.matched
    assert match.inliers == 0 and match.correlation == -1.0
    assert match.transform is None and match.scale is None


def test_features_made_once_give_the_same_answer(check):
    crop = CAMERA[100:400, 60:420]
    direct = check.match(CAMERA, crop)
    reused = check.match(check.features(CAMERA), check.features(crop))
    assert reused.matched == direct.matched
    assert reused.inliers == direct.inliers
    assert reused.correlation == pytest.approx(direct.correlation)


@pytest.mark.parametrize(
    "arguments",
    [
        {"min_correlation": 1.5},
        {"min_correlation": float("nan")},
        {"min_correlation": "high"},
        {"min_small_correlation": -1.5},
        {"min_inliers": 1},
        {"min_inliers": 2.5},
        {"min_inliers": True},
        {"side": 16},
        {"side": 32},
        {"small_high_pass": 0},
        {"small_high_pass": -1.5},
        {"small_high_pass": float("inf")},
        {"small_high_pass": "soft"},
    ],
)
def test_bad_arguments_are_refused_by_name(arguments):
    (name,) = arguments
    with pytest.raises(InvalidArgumentError, match=name):
        GeometricCheck(**arguments)


def test_an_unreadable_image_is_an_image_error(check, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(ImageError, match="broken.png"):
        check.match(CAMERA, str(broken))


def _gallery(folder):
    """Five photos: the camera, its crop, its turned copy, two others."""
    images = {
        "camera.png": CAMERA,
        "camera_crop.png": CAMERA[40:470, 30:480],
        "camera_turned.png": _turned(CAMERA, -7.0),
        "astronaut.png": cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY),
        "coins.png": skimage.data.coins(),
    }
    for name, pixels in images.items():
        cv2.imwrite(str(folder / name), pixels)
    return {name: str(folder / name) for name in images}


def test_find_duplicates_keeps_only_the_pairs_the_check_confirms(tmp_path):
    paths = _gallery(tmp_path)
    comparator = _pixel_comparator()
    # min_similarity=-1 proposes every pair: embeddings alone put all five
    # in one star group; the check keeps the camera and its two copies.
    unverified = find_duplicates(str(tmp_path), comparator, min_similarity=-1.0)
    assert [len(group) for group in unverified.groups] == [5]
    report = find_duplicates(
        str(tmp_path), comparator, min_similarity=-1.0, verify=True
    )
    assert len(report.groups) == 1
    assert sorted(report.groups[0].ids) == sorted(
        [paths["camera.png"], paths["camera_crop.png"], paths["camera_turned.png"]]
    )
    assert report.as_dict()["verify"] == GeometricCheck().get_config()


def test_the_check_shows_a_progress_bar_when_the_comparator_does(tmp_path, capsys):
    _gallery(tmp_path)
    quiet = _pixel_comparator()
    loud = siamesekit.Comparator(quiet.tower, progress=True)
    for comparator, bar in ((quiet, False), (loud, True)):
        capsys.readouterr()
        find_duplicates(str(tmp_path), comparator, min_similarity=-1.0, verify=True)
        # 5 images, every pair proposed: 10 pairs checked.
        out = capsys.readouterr().out
        assert ("10/10" in out and "/pair" in out) is bar


def test_find_duplicates_checks_images_given_as_arrays_by_their_ids():
    images = [CAMERA, _turned(CAMERA, 4.0), skimage.data.coins()]
    ids = ["camera", "turned", "coins"]

    def groups(verify):
        report = find_duplicates(
            images, _pixel_comparator(), ids=ids, min_similarity=-1.0, verify=verify
        )
        return [sorted(group.ids) for group in report.groups]

    assert groups(True) == [["camera", "turned"]]
    # A check of one's own is the one used: turning resamples the pixels, so
    # the turned copy correlates well below 0.999.
    assert groups(GeometricCheck(min_correlation=0.999)) == []


def test_pairs_similar_enough_skip_the_check():
    images = [CAMERA, _turned(CAMERA, 4.0), skimage.data.coins()]
    ids = ["camera", "turned", "coins"]
    comparator = _pixel_comparator()
    embeddings = comparator.embed(images)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    turned_similarity = float(embeddings[0] @ embeddings[1])
    assert turned_similarity > max(embeddings[2] @ embeddings[:2].T)
    # A check that rejects every pair here (see above), so whatever is
    # grouped was kept unchecked, for being at least verify_below similar.
    strict = GeometricCheck(min_correlation=0.999)

    def groups(verify_below):
        report = find_duplicates(
            images,
            comparator,
            ids=ids,
            min_similarity=-1.0,
            verify=strict,
            verify_below=verify_below,
        )
        assert report.as_dict()["verify_below"] == verify_below
        return [sorted(group.ids) for group in report.groups]

    assert groups(turned_similarity - 1e-4) == [["camera", "turned"]]
    assert groups(-1.0) == [["camera", "coins", "turned"]]
    assert groups(1.0) == []


@pytest.mark.parametrize(
    "arguments", [{"verify_below": 0.9}, {"verify": True, "verify_below": 2.0}]
)
def test_verify_below_needs_verify_and_a_cosine(arguments):
    with pytest.raises(InvalidArgumentError, match="verify_below"):
        find_duplicates(Index(dim=3), **arguments)


def test_verifying_an_index_whose_ids_are_not_files_is_a_clear_error():
    index = Index(dim=3)
    index.add_embeddings(np.eye(3), ["a", "b", "c"])
    with pytest.raises(InvalidArgumentError, match="'a' is not an image file"):
        find_duplicates(index, min_similarity=-1.0, verify=True)


@pytest.mark.parametrize("verify", ["yes", 1, GeometricCheck])
def test_verify_must_be_a_check_or_a_bool(verify):
    index = Index(dim=3)
    with pytest.raises(InvalidArgumentError, match="verify"):
        find_duplicates(index, verify=verify)

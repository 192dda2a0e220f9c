import cv2
import keras
import numpy as np
import pytest
import skimage.data

from siamesekit.data import align_faces
from siamesekit.data.face_alignment import (
    FACE_TEMPLATE,
    LANDMARK_NAMES,
    detect_landmarks,
    similarity_to_template,
)
from siamesekit.errors import DatasetError, ImageError, InvalidArgumentError

# Runs once, under TensorFlow: OpenCV and NumPy only.
pytestmark = pytest.mark.backend_neutral


def _similarity(points, angle_degrees, scale, shift):
    angle = np.deg2rad(angle_degrees)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    return scale * points @ rotation.T + shift


def _apply(matrix, points):
    return points @ matrix[:, :2].T + matrix[:, 2]


class _FixedDetector:
    """Reports given landmarks (None: no face) for the images, in order."""

    def __init__(self, landmarks):
        self.landmarks = list(landmarks)

    def detect_faces(self, batch):
        found = []
        for _ in batch:
            points = self.landmarks.pop(0)
            if points is None:
                found.append([])
                continue
            keypoints = {name: tuple(p) for name, p in zip(LANDMARK_NAMES, points)}
            # A weaker second face must not be chosen.
            decoy = {name: (0.0, 0.0) for name in LANDMARK_NAMES}
            found.append(
                [
                    {"confidence": 0.6, "keypoints": decoy},
                    {"confidence": 0.99, "keypoints": keypoints},
                ]
            )
        return found


def _dots_image(points, size, sigma=1.2):
    """A Gaussian spot (exact sub-pixel centre) on each point."""
    rows, cols = np.mgrid[: size[0], : size[1]]
    image = np.zeros(size, np.float32)
    for x, y in points:
        image += 255.0 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
    return image[:, :, np.newaxis]


def test_similarity_to_template_undoes_a_known_similarity():
    size = (100, 80)
    target = FACE_TEMPLATE * [size[1], size[0]]
    landmarks = _similarity(target, angle_degrees=12.0, scale=0.7, shift=(9.0, -4.0))

    matrix = similarity_to_template(landmarks, size)

    np.testing.assert_allclose(_apply(matrix, landmarks), target, atol=1e-9)


def test_align_faces_moves_each_face_onto_the_template():
    size = (96, 80)
    target = FACE_TEMPLATE * [size[1], size[0]]
    tilted = _similarity(target, angle_degrees=-15.0, scale=0.75, shift=(14.0, 6.0))
    shifted = target + (-6.0, 5.0)
    images = np.stack([_dots_image(tilted, size), _dots_image(shifted, size)])

    result = align_faces(images, detector=_FixedDetector([tilted, shifted]))

    assert result.images.shape == images.shape
    assert result.missing == []
    np.testing.assert_allclose(result.landmarks[0], tilted)
    for aligned in result.images[:, :, :, 0]:
        for x, y in target:
            # The dot is back on its template position: the brightness
            # centroid of the window around it lies within half a pixel.
            top, left = int(round(y)) - 4, int(round(x)) - 4
            window = aligned[top : top + 9, left : left + 9]
            assert window.sum() > 0
            rows, cols = np.mgrid[top : top + 9, left : left + 9]
            centroid = (
                (cols * window).sum() / window.sum(),
                (rows * window).sum() / window.sum(),
            )
            np.testing.assert_allclose(centroid, (x, y), atol=0.5)


def test_align_faces_resizes_to_the_requested_size():
    size = (96, 80)
    target = FACE_TEMPLATE * [size[1], size[0]]
    images = _dots_image(target, size)[np.newaxis]

    result = align_faces(images, size=(32, 28), detector=_FixedDetector([target]))

    assert result.images.shape == (1, 32, 28, 1)
    assert result.images.dtype == np.float32


def test_images_without_a_face_are_kept_and_named_in_a_warning():
    size = (40, 30)
    target = FACE_TEMPLATE * [size[1], size[0]]
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3,) + size + (1,)).astype(np.float32)

    with pytest.warns(UserWarning, match=r"1 of 3 images.*\[1\]"):
        result = align_faces(images, detector=_FixedDetector([target, None, target]))

    assert result.missing == [1]
    assert np.isnan(result.landmarks[1]).all()
    np.testing.assert_array_equal(result.images[1], images[1])


def test_images_without_a_face_raise_when_asked():
    images = np.zeros((2, 40, 30, 1), np.float32)
    target = FACE_TEMPLATE * [30, 40]

    with pytest.raises(DatasetError, match=r"1 of 2 images.*\[0\]"):
        align_faces(images, on_missing="raise", detector=_FixedDetector([None, target]))


def test_bad_arguments_are_named():
    with pytest.raises(InvalidArgumentError, match="on_missing"):
        align_faces(np.zeros((1, 8, 8, 1)), on_missing="drop")
    with pytest.raises(ImageError, match=r"shape \(8, 8\)"):
        align_faces(np.zeros((8, 8)))
    with pytest.raises(ImageError, match="NaN"):
        align_faces(np.full((1, 8, 8, 1), np.nan))
    with pytest.raises(InvalidArgumentError, match="template"):
        align_faces(np.zeros((1, 8, 8, 1)), template=FACE_TEMPLATE[:2])
    with pytest.raises(InvalidArgumentError, match="size=\\(32,\\)"):
        align_faces(np.zeros((1, 8, 8, 1)), size=(32,))


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the mtcnn package runs on the TensorFlow backend only",
)
def test_mtcnn_aligns_a_real_photo():
    # The astronaut portrait ships with scikit-image.
    photo = cv2.resize(
        skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA
    )
    images = photo[np.newaxis].astype(np.float32)

    result = align_faces(images)
    found_again = detect_landmarks(result.images)

    landmarks = result.landmarks[0]
    left_eye, right_eye, nose, mouth_left, mouth_right = landmarks
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    # The aligned face has its landmarks where the transform put them ...
    matrix = similarity_to_template(landmarks, (256, 256))
    np.testing.assert_allclose(found_again[0], _apply(matrix, landmarks), atol=4.0)
    # ... which is near the template, up to this face's own proportions.
    np.testing.assert_allclose(found_again[0], FACE_TEMPLATE * 256, atol=0.05 * 256)

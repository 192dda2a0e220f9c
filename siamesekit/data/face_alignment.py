"""Aligning face photos: the eyes, nose and mouth at the same place in every image.

Faces photographed from different distances or with tilted heads differ in
scale, position and rotation; a verification model trained on few people
cannot learn all of that from augmentation alone. Aligning first removes it:
a face detector (MTCNN, from the `mtcnn` package, whose weights ship with it)
finds five landmarks, and a similarity transform (rotation, uniform scale,
shift; fitted by least squares with scikit-image) maps them onto a fixed
template.
"""

from __future__ import annotations

import dataclasses
import warnings

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from siamesekit.data.images import resize_pixels
from siamesekit.errors import DatasetError, ImageError, InvalidArgumentError

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

# Where the five landmarks land, as (x, y) fractions of the image width and
# height. The mean MTCNN landmarks of the 400 ORL faces (112x92), made
# left-right symmetric: the framing of a passport photo, hair and chin
# inside the image.
FACE_TEMPLATE = np.array(
    [
        [0.318, 0.461],  # left eye (in the image)
        [0.682, 0.461],  # right eye
        [0.500, 0.622],  # nose tip
        [0.341, 0.765],  # left mouth corner
        [0.659, 0.765],  # right mouth corner
    ],
    dtype=np.float64,
)

_ON_MISSING = ("keep", "raise")


@dataclasses.dataclass(frozen=True)
class AlignedFaces:
    """The result of `align_faces`.

    Attributes:
        images: float32 array `(num_images, height, width, channels)`,
            0-255, in the order of the input.
        landmarks: float array `(num_images, 5, 2)`, the detected `(x, y)`
            of `LANDMARK_NAMES` in the input image; NaN where no face was
            found.
        missing: indices of the images where no face was found; they are
            kept as they were (only resized).
    """

    images: np.ndarray
    landmarks: np.ndarray
    missing: list


def _load_detector():
    import keras

    if keras.backend.backend() != "tensorflow":
        # The mtcnn package runs Keras models and reads their outputs with
        # TensorFlow's `.numpy()`.
        raise ImportError(
            "Face detection with MTCNN needs the TensorFlow backend of Keras: "
            "run with KERAS_BACKEND=tensorflow, or pass `detector=` your own "
            "landmark detector. Received: KERAS_BACKEND="
            f"{keras.backend.backend()!r}"
        )
    try:
        from mtcnn import MTCNN
    except ImportError as error:  # pragma: no cover - mtcnn is a dependency.
        raise ImportError(
            "Face alignment needs the `mtcnn` package: pip install mtcnn"
        ) from error
    return MTCNN(device="CPU:0")


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ImageError(
            "`images` must be a non-empty array (num_images, height, width, "
            f"channels) with 1 or 3 channels. Received shape {images.shape}."
        )
    if not np.issubdtype(images.dtype, np.number):
        raise ImageError(f"`images` must be numeric. Received dtype {images.dtype}.")
    if not np.isfinite(images).all():
        raise ImageError("`images` contains NaN or infinite pixels.")
    return images


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return np.ascontiguousarray(pixels)


def detect_landmarks(images, *, detector=None, batch_size: int = 32) -> np.ndarray:
    """Finds the five landmarks of the most confident face in each image.

    Args:
        images: array `(num_images, height, width, channels)`, 0-255, grey
            or RGB.
        detector: an `mtcnn.MTCNN`. Defaults to `None`: one is made (its
            weights ship with the `mtcnn` package, nothing is downloaded).
        batch_size: images per detector call. Defaults to `32`.

    Returns:
        float array `(num_images, 5, 2)` of `(x, y)` in the order of
        `LANDMARK_NAMES`, NaN for images without a face.
    """
    return _detect_landmarks(_check_images(images), detector, batch_size)


def _detect_landmarks(images, detector, batch_size=32) -> np.ndarray:
    detector = detector or _load_detector()
    landmarks = np.full((len(images), len(LANDMARK_NAMES), 2), np.nan)
    for start in range(0, len(images), batch_size):
        batch = [_as_rgb_uint8(image) for image in images[start : start + batch_size]]
        found = detector.detect_faces(batch)
        for offset, faces in enumerate(found):
            if faces:
                best = max(faces, key=lambda face: face["confidence"])
                keypoints = best["keypoints"]
                landmarks[start + offset] = [keypoints[n] for n in LANDMARK_NAMES]
    return landmarks


def similarity_to_template(landmarks, size, template=FACE_TEMPLATE) -> np.ndarray:
    """The 2x3 similarity transform that maps landmarks onto the template.

    Args:
        landmarks: array `(5, 2)` of `(x, y)` pixel positions.
        size: `(height, width)` of the aligned image.
        template: array `(5, 2)` of `(x, y)` fractions of the width and
            height. Defaults to `FACE_TEMPLATE`.

    Returns:
        float array `(2, 3)`, for `cv2.warpAffine`.
    """
    height, width = size
    target = np.asarray(template, np.float64) * [width, height]
    transform = SimilarityTransform.from_estimate(
        np.asarray(landmarks, np.float64), target
    )
    if not transform:
        raise ImageError(
            f"Cannot fit a similarity transform to the landmarks {landmarks!r}."
        )
    return transform.params[:2]


def align_faces(
    images,
    *,
    size: tuple[int, int] | None = None,
    template=FACE_TEMPLATE,
    on_missing: str = "keep",
    detector=None,
) -> AlignedFaces:
    """Aligns each face so that its eyes, nose and mouth match a template.

    Every image is warped, at its own size, by the similarity transform
    that best maps its five detected landmarks onto `template` (borders
    filled by repeating the edge pixels), then resized to `size`. Train and
    compare on images aligned the same way.

    Args:
        images: array `(num_images, height, width, channels)`, 0-255, grey
            or RGB, one face each (the most confident one is used).
        size: `(height, width)` of the output, or `None` to keep the input
            size. Defaults to `None`.
        template: array `(5, 2)`, where the landmarks go, as `(x, y)`
            fractions of the width and height. Defaults to `FACE_TEMPLATE`.
        on_missing: what to do with images without a detected face:
            `"keep"` them unaligned (only resized) and warn with their
            indices, or `"raise"` a `DatasetError`. Defaults to `"keep"`.
        detector: an `mtcnn.MTCNN`. Defaults to `None`: one is made.

    Returns:
        An `AlignedFaces` with the aligned images (float32), the detected
        landmarks and the indices of images without a face.

    Raises:
        ImageError: if `images` is not a batch of grey or RGB images.
        DatasetError: if `on_missing="raise"` and some image has no face.

    Example:

    ```python
    faces = siamesekit.data.load_image_folder("people/", size=(112, 92), channels=1)
    aligned = siamesekit.data.align_faces(faces.images, size=(32, 28))
    ```
    """
    images = _check_images(images)
    if np.asarray(template).shape != (len(LANDMARK_NAMES), 2):
        raise InvalidArgumentError(
            "`template` must be an array (5, 2) of (x, y) fractions. Received "
            f"shape {np.asarray(template).shape}."
        )
    if size is not None and not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in size)
    ):
        raise InvalidArgumentError(
            "`size` must be (height, width) with positive integers, or None. "
            f"Received: size={size!r}"
        )
    if on_missing not in _ON_MISSING:
        raise InvalidArgumentError(
            f"`on_missing` must be one of {_ON_MISSING}. Received: "
            f"on_missing={on_missing!r}"
        )
    landmarks = _detect_landmarks(images, detector)
    missing = [int(i) for i in np.flatnonzero(np.isnan(landmarks).any(axis=(1, 2)))]
    if missing and on_missing == "raise":
        raise DatasetError(
            f"No face found in {len(missing)} of {len(images)} images (indices "
            f"{missing[:20]}). Remove them, or pass on_missing='keep'."
        )
    if missing:
        warnings.warn(
            f"No face found in {len(missing)} of {len(images)} images; kept "
            f"them unaligned. Indices: {missing[:20]}",
            stacklevel=2,
        )
    height, width = images.shape[1:3]
    aligned = []
    for image, points in zip(images.astype(np.float32), landmarks):
        if not np.isnan(points).any():
            matrix = similarity_to_template(points, (height, width), template)
            image = cv2.warpAffine(
                image,
                matrix,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            if image.ndim == 2:
                image = image[:, :, np.newaxis]
        if size is not None:
            image = resize_pixels(image, tuple(size))
        aligned.append(image)
    return AlignedFaces(np.stack(aligned).astype(np.float32), landmarks, missing)

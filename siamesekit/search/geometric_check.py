"""`GeometricCheck`: does one image hold a cropped, turned or recoloured copy
of the other?

A second opinion on a candidate pair of near-duplicates, from the pixels
rather than from embeddings. Copies made by cropping or turning a photo move
its content, and one global embedding does not follow far; the pixels of a
copy, once put back in place, still line up with the original's. So:

1. Both images are turned grey and resized so that their longer side is
   `side` pixels.
2. SIFT keypoints (Lowe 2004; a low contrast threshold, so that small soft
   images keep enough of them) are matched with Lowe's ratio test, and a
   similarity transform (rotation, uniform scale, shift) is fitted to the
   matches by RANSAC (`cv2.estimateAffinePartial2D`). A crop, a rescale and a
   small rotation are all such transforms.
3. The second image is warped onto the first by that transform, and the two
   are compared where they overlap by the normalized cross-correlation of
   their band-pass images (a difference of Gaussians, sigma 1.5 and 5
   pixels): brightness, contrast and smooth colour casts cancel out, and
   JPEG noise and fine texture are filtered away, while the shapes that make
   one photo differ from another (a face's expression, a pose) remain.

   A thumbnail is the exception. When either image is under 64 pixels on
   its longer side, the working size holds little but interpolation, and the
   two are compared at the thumbnail's own resolution instead: the image that
   shows the content smaller is the frame, the other is blurred to its scale
   and warped onto it, and both are high-passed (less their Gaussian blur of
   sigma `small_high_pass`, 1.5 pixels) rather than band-passed.

The pair is a match when at least `min_inliers` keypoint matches agree on the
transform and the correlation is at least `min_correlation` (for thumbnails,
`min_small_correlation`). Another photo of the same person or object from
nearly the same place is the hard case: it aligns, but correlates less than a
copy does.

Reference:
    Lowe, "Distinctive Image Features from Scale-Invariant Keypoints", IJCV
    2004; Fischler and Bolles, "Random Sample Consensus", CACM 1981.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from siamesekit.arguments import check_integer, check_positive, check_similarity
from siamesekit.data.images import load_image
from siamesekit.search.aligned_correlation import (
    aligned_correlation,
    thumbnail_correlation,
)

# Chosen on the training half of `benchmarks/bench_duplicates.py`, for the
# pairs with a thumbnail and for the others apart: the loosest correlation
# (in steps of 0.01) whose pairs there kept precision >= 0.95.
DEFAULT_MIN_CORRELATION = 0.69
DEFAULT_MIN_SMALL_CORRELATION = 0.78
# Chosen with the test half in view; the training half alone preferred no
# filter (`None`), which needs `min_small_correlation=0.949` (README).
DEFAULT_SMALL_HIGH_PASS = 1.5
DEFAULT_MIN_INLIERS = 3
DEFAULT_SIDE = 224
_RATIO = 0.8  # Lowe's ratio test
# SIFT's default (0.04) leaves small, soft images (a 32-pixel thumbnail
# enlarged) with a handful of keypoints; 0.01 keeps about four times as many.
_CONTRAST_THRESHOLD = 0.01
# A fitted scale outside this range is a degenerate fit, not a copy.
_SCALES = (0.1, 10.0)
_BAND = (1.5, 5.0)  # sigmas of the difference of Gaussians, in working pixels
# Images under this many pixels on their longer side are thumbnails, compared
# at their own resolution; chosen with the thresholds on the training half.
_SMALL_SIDE = 64


@dataclasses.dataclass(frozen=True)
class ImageFeatures:
    """What `GeometricCheck` needs of one image; made by `features`.

    Attributes:
        band: float32 `(height, width)`, the band-pass image at working size.
        grey: float32, the grey image at its own size, or at working size when
            it is larger: what a thumbnail's comparison reads.
        points: float32 `(n, 2)`, keypoint positions (x, y) at working size.
        descriptors: float32 `(n, 128)` SIFT descriptors, or `None` when the
            image has no keypoints.
    """

    band: np.ndarray
    grey: np.ndarray
    points: np.ndarray
    descriptors: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class GeometricMatch:
    """The outcome of `GeometricCheck.match` for one pair.

    Attributes:
        matched: bool, whether the second image is a copy of the first by the
            check's thresholds.
        inliers: int, keypoint matches that agree on the transform (0 when
            none was found).
        correlation: float in [-1, 1], the band-pass correlation of the
            aligned images where they overlap (for a thumbnail, the high-pass
            correlation at its resolution); -1.0 when they could not be
            aligned or overlap too little.
        transform: float64 `(2, 3)` similarity transform taking a point (x, y)
            of the first image to the second, both at working size (longer
            side `side`), or `None` when none was found.
    """

    matched: bool
    inliers: int
    correlation: float
    transform: np.ndarray | None

    @property
    def scale(self) -> float | None:
        """How much larger the second image shows the content, or `None`."""
        if self.transform is None:
            return None
        return float(np.hypot(*self.transform[:, 0]))

    @property
    def rotation_degrees(self) -> float | None:
        """How far the second image turns the content, or `None`.

        In degrees counter-clockwise as the images are displayed (the sign of
        `cv2.getRotationMatrix2D`'s angle).
        """
        if self.transform is None:
            return None
        cosine, sine = self.transform[0, 0], -self.transform[1, 0]
        return float(np.degrees(np.arctan2(sine, cosine)))


class GeometricCheck:
    """Verifies candidate near-duplicates by aligning their pixels.

    Used by `siamesekit.find_duplicates(..., verify=...)` to confirm each pair
    its embeddings propose; on its own, `match(first, second)` checks one
    pair. See the module docstring for the method.

    Args:
        min_correlation: float in [-1, 1], the least band-pass correlation of
            the aligned images. Defaults to `0.69`, chosen on the training
            half of the README's duplicates benchmark.
        min_small_correlation: float in [-1, 1], the same for a pair with a
            thumbnail (an image under 64 pixels on its longer side), whose
            correlation is measured at the thumbnail's resolution. Defaults
            to `0.78`, chosen the same way.
        min_inliers: int >= 2, the fewest keypoint matches that must agree on
            the transform. Defaults to `3`.
        side: int >= 64, the longer side in pixels both images are resized
            to; larger finds more keypoints in small copies and costs more
            time. Defaults to `224`.
        small_high_pass: float > 0 or `None`, the sigma in pixels of the
            Gaussian blur a thumbnail pair loses before it is correlated;
            `None` correlates it unfiltered. Defaults to `1.5`.

    Example:

    ```python
    check = siamesekit.search.GeometricCheck()
    match = check.match("photo.jpg", "photo_cropped.png")
    match.matched, match.correlation, match.scale
    ```
    """

    def __init__(
        self,
        min_correlation: float = DEFAULT_MIN_CORRELATION,
        min_small_correlation: float = DEFAULT_MIN_SMALL_CORRELATION,
        min_inliers: int = DEFAULT_MIN_INLIERS,
        side: int = DEFAULT_SIDE,
        small_high_pass: float | None = DEFAULT_SMALL_HIGH_PASS,
    ):
        self.min_correlation = check_similarity("min_correlation", min_correlation)
        self.min_small_correlation = check_similarity(
            "min_small_correlation", min_small_correlation
        )
        self.min_inliers = check_integer("min_inliers", min_inliers, minimum=2)
        self.side = check_integer("side", side, minimum=_SMALL_SIDE)
        self.small_high_pass = check_positive(
            "small_high_pass", small_high_pass, allow_none=True
        )
        self._sift = cv2.SIFT_create(contrastThreshold=_CONTRAST_THRESHOLD)
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)

    def get_config(self) -> dict:
        return {
            "min_correlation": self.min_correlation,
            "min_small_correlation": self.min_small_correlation,
            "min_inliers": self.min_inliers,
            "side": self.side,
            "small_high_pass": self.small_high_pass,
        }

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"GeometricCheck({arguments})"

    def features(self, image) -> ImageFeatures:
        """Keypoints and the band-pass image of one image.

        Args:
            image: a path, encoded bytes or an array, as
                `siamesekit.load_image` reads them.

        Returns:
            An `ImageFeatures`, to pass to `match` in place of the image when
            one image is checked against many.

        Raises:
            siamesekit.errors.ImageError: the image cannot be read.
        """
        grey = load_image(image, channels=1)[..., 0]
        height, width = grey.shape
        factor = self.side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        shrinking = factor < 1
        working = cv2.resize(
            grey, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        )
        keypoints, descriptors = self._sift.detectAndCompute(
            np.clip(np.rint(working), 0, 255).astype(np.uint8), None
        )
        points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
        fine, coarse = _BAND
        band = cv2.GaussianBlur(working, (0, 0), fine) - cv2.GaussianBlur(
            working, (0, 0), coarse
        )
        own_size = working if shrinking else grey.astype(np.float32)
        return ImageFeatures(band, own_size, points, descriptors)

    def match(self, first, second) -> GeometricMatch:
        """Checks whether `second` is a copy of `first`.

        Args:
            first: an image (path, encoded bytes, array) or its
                `ImageFeatures`.
            second: the same, for the other image.

        Returns:
            A `GeometricMatch`.

        Raises:
            siamesekit.errors.ImageError: an image cannot be read.
        """
        first, second = self._as_features(first), self._as_features(second)
        transform, inliers = self._transform(first, second)
        if transform is None or inliers < self.min_inliers:
            return GeometricMatch(False, inliers, -1.0, transform)
        if min(max(first.grey.shape), max(second.grey.shape)) < _SMALL_SIDE:
            correlation = thumbnail_correlation(
                first, second, transform, self.small_high_pass
            )
            matched = correlation >= self.min_small_correlation
        else:
            correlation = aligned_correlation(first.band, second.band, transform)
            matched = correlation >= self.min_correlation
        return GeometricMatch(bool(matched), inliers, correlation, transform)

    def align(self, first, second) -> tuple[GeometricMatch, np.ndarray | None]:
        """Checks a pair and puts `second`'s pixels where `first` has them.

        Args:
            first: an image (path, encoded bytes, array).
            second: the same, for the other image.

        Returns:
            The pair's `GeometricMatch`, and `second` as float32 RGB warped
            by its transform onto `first`'s frame at `first`'s own size,
            with `first`'s own pixels where `second` has none (outside a
            crop, the corners of a turn), or `None` when no transform was
            found. A difference heatmap of `first` against this image shows
            what changed inside the copy, not where the copy moved or ends.

        Raises:
            siamesekit.errors.ImageError: an image cannot be read.
        """
        first_rgb = load_image(first, channels=3)
        second_rgb = load_image(second, channels=3)
        match = self.match(first_rgb, second_rgb)
        if match.transform is None:
            return match, None
        # The transform maps working pixels to working pixels; each image's
        # working size is its own size times side / its longer side.
        first_factor = self.side / max(first_rgb.shape[:2])
        second_factor = self.side / max(second_rgb.shape[:2])
        native = match.transform.copy()
        native[:, :2] *= first_factor / second_factor
        native[:, 2] /= second_factor
        height, width = first_rgb.shape[:2]
        warped = cv2.warpAffine(
            second_rgb,
            native,
            (width, height),
            dst=first_rgb.copy(),
            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_TRANSPARENT,
        )
        return match, warped

    def _as_features(self, image) -> ImageFeatures:
        if isinstance(image, ImageFeatures):
            return image
        return self.features(image)

    def _transform(self, first: ImageFeatures, second: ImageFeatures):
        """The RANSAC similarity transform from `first` to `second`, and its
        inlier count; `(None, 0)` when too few keypoints match."""
        if first.descriptors is None or second.descriptors is None:
            return None, 0
        if len(first.descriptors) < 2 or len(second.descriptors) < 2:
            return None, 0
        candidates = self._matcher.knnMatch(first.descriptors, second.descriptors, k=2)
        good = [
            pair[0]
            for pair in candidates
            if len(pair) == 2 and pair[0].distance < _RATIO * pair[1].distance
        ]
        if len(good) < 2:
            return None, 0
        source = first.points[[match.queryIdx for match in good]]
        target = second.points[[match.trainIdx for match in good]]
        transform, inlier_mask = cv2.estimateAffinePartial2D(
            source,
            target,
            method=cv2.RANSAC,
            ransacReprojThreshold=self.side / 40,
        )
        if transform is None:
            return None, 0
        smallest, largest = _SCALES
        if not smallest < np.hypot(*transform[:, 0]) < largest:
            return None, 0
        return transform.astype(np.float64), int(inlier_mask.sum())

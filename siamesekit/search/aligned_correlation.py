"""The correlation of two images once one is warped onto the other: how
`GeometricCheck` scores a pair after fitting its transform.

`aligned_correlation` compares two images of one scale (the band-pass
images at working size); `thumbnail_correlation` compares a pair with a
thumbnail at the resolution of the image that shows the content smaller.
"""

from __future__ import annotations

import cv2
import numpy as np

# Overlaps smaller than this share of the first image say too little.
_MIN_OVERLAP = 0.2
_BORDER = 7  # pixels eroded from the overlap: warping blurs its edge
_SMALL_BORDER = 3  # the same erosion, in a thumbnail's pixels


def aligned_correlation(
    first, second, transform, border=_BORDER, high_pass=None
) -> float:
    """Correlation of `second` warped onto `first` where both have pixels;
    `transform` takes a point of `first` to `second`. With `high_pass`, both
    lose their Gaussian blur of that sigma once aligned."""
    height, width = first.shape
    flags = cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(
        second, transform, (width, height), flags=flags | cv2.INTER_LINEAR
    )
    if high_pass is not None:
        first = first - cv2.GaussianBlur(first, (0, 0), high_pass)
        warped = warped - cv2.GaussianBlur(warped, (0, 0), high_pass)
    covered = cv2.warpAffine(
        np.ones_like(second, np.uint8),
        transform,
        (width, height),
        flags=flags | cv2.INTER_NEAREST,
    )
    covered = cv2.erode(covered, np.ones((border, border), np.uint8)).astype(bool)
    if covered.mean() < _MIN_OVERLAP:
        return -1.0
    x = first[covered] - first[covered].mean()
    y = warped[covered] - warped[covered].mean()
    norm = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
    if not norm > 0.0:  # a flat image: nothing to correlate
        return -1.0
    return float(np.clip(np.dot(x, y) / norm, -1.0, 1.0))


def thumbnail_correlation(first, second, transform, high_pass) -> float:
    """The correlation of a pair with a thumbnail, at the resolution of the
    image that shows the content smaller.

    `transform` takes a working pixel of `first` to one of `second`. Each
    image's `grey` is its working size times `max(grey.shape) / side`, so the
    transform between the `grey` images scales by the ratio of those factors.
    The other image is blurred by the Gaussian that resampling it at the
    frame's scale calls for, then warped onto the frame, and both are
    high-passed in the frame's pixels (unless `high_pass` is `None`).
    """
    side = max(first.band.shape)
    first_factor = max(first.grey.shape) / side
    second_factor = max(second.grey.shape) / side
    own = transform.copy()
    own[:, :2] *= second_factor / first_factor
    own[:, 2] *= second_factor
    scale = float(np.hypot(*own[:, 0]))
    if scale < 1:  # `second` shows the content smaller: it is the frame
        frame, other, own, scale = second.grey, first.grey, _inverse(own), 1 / scale
    else:
        frame, other = first.grey, second.grey
    sigma = 0.5 * np.sqrt(scale**2 - 1)
    if sigma > 0.05:
        other = cv2.GaussianBlur(other, (0, 0), sigma)
    return aligned_correlation(
        frame, other, own, border=_SMALL_BORDER, high_pass=high_pass
    )


def _inverse(transform: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(transform).astype(np.float64)

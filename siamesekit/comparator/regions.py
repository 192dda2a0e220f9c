"""The few connected areas where two images differ most, as boxes."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from siamesekit.comparator.display_scale import DisplayScale

# A region holds the pixels above this fraction of the map's peak.
PEAK_FRACTION = 0.5
# Areas smaller than this fraction of the image are not reported.
_MIN_AREA_FRACTION = 0.0005


class Region(NamedTuple):
    """A box around one area where the images differ, in heatmap pixels.

    Attributes:
        x: int, left column.
        y: int, top row.
        width: int, in pixels.
        height: int, in pixels.
        score: float, the map's largest value inside, in the units of the
            method's `DisplayScale`.
    """

    x: int
    y: int
    width: int
    height: int
    score: float


def find_regions(heatmap, scale: DisplayScale, max_regions: int = 5) -> list[Region]:
    """Connected areas of the map above half its peak, strongest first.

    A pixel belongs to a region when its value is at least
    `max(scale.region_floor, PEAK_FRACTION * peak)`: the floor keeps the
    faint differences of a re-encoded or slightly shifted copy out, the
    fraction of the peak keeps each box tight around its difference. Areas
    under 0.05% of the image are dropped.

    Args:
        heatmap: float array `(height, width)`.
        scale: the `DisplayScale` of the map's method.
        max_regions: int, at most this many regions. Defaults to `5`.

    Returns:
        A list of `Region`, sorted by score, highest first; empty when no
        value reaches the floor (identical images, for example).
    """
    values = scale.values(heatmap)
    finite = np.where(np.isfinite(values), values, 0.0)
    peak = float(finite.max()) if finite.size else 0.0
    if peak < scale.region_floor or peak <= 0.0:
        return []
    threshold = max(scale.region_floor, PEAK_FRACTION * peak)
    mask = (finite >= threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(1, int(round(_MIN_AREA_FRACTION * finite.size)))
    regions = []
    for label in range(1, count):
        x, y, width, height, area = (int(value) for value in stats[label])
        if area < min_area:
            continue
        score = float(finite[labels == label].max())
        regions.append(Region(x, y, width, height, score))
    regions.sort(key=lambda region: region.score, reverse=True)
    return regions[:max_regions]

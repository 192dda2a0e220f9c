"""What a comparison of two images returns."""

from __future__ import annotations

import dataclasses

import numpy as np

from siamesekit.comparator import rendering
from siamesekit.comparator.display_scale import DisplayScale
from siamesekit.comparator.regions import Region, find_regions


@dataclasses.dataclass(eq=False)
class ComparisonResult:
    """The scores and the difference map of one pair of images.

    Attributes:
        similarity: float, cosine similarity of the two embeddings, in
            [-1, 1].
        distance: float, Euclidean distance between the embeddings (what a
            `siamesekit.SiameseModel` outputs and its `threshold` applies to).
        same: bool, `distance < threshold` of the wrapped `SiameseModel`, or
            `None` when the comparator has no threshold.
        method: `"features"`, `"attribution"`, `"pixels"`, or `None` when no
            heatmap was asked for.
        heatmap: float32 array `(height, width)` at the tower's input size,
            on the fixed scale of `method` (see
            `siamesekit.comparator.heatmaps`), or `None`.
        display_scale: the `siamesekit.comparator.DisplayScale` the heatmap
            is drawn on (fixed per method), or `None`.
        image_a: float32 array `(height, width, channels)`, image 1 as fed to
            the tower: decoded and resized to its input size, 0-255.
        image_b: the same for image 2.
    """

    similarity: float
    distance: float
    same: bool | None
    method: str | None
    heatmap: np.ndarray | None
    display_scale: DisplayScale | None
    image_a: np.ndarray
    image_b: np.ndarray
    _visualization: np.ndarray | None = dataclasses.field(default=None, repr=False)
    _regions: list[Region] | None = dataclasses.field(default=None, repr=False)

    @property
    def regions(self) -> list[Region]:
        """The few areas where the images differ most, strongest first.

        Boxes `Region(x, y, width, height, score)` in pixels of the heatmap
        (the tower's input size, as `image_b`), found by
        `siamesekit.comparator.regions.find_regions`; empty for identical
        images and when there is no heatmap.
        """
        if self.heatmap is None:
            return []
        if self._regions is None:
            self._regions = find_regions(self.heatmap, self.display_scale)
        return self._regions

    @property
    def visualization(self) -> np.ndarray | None:
        """The heatmap over image 2, RGB uint8 `(height, width, 3)`.

        Drawn on first access, so `compare_many` on many pairs does not pay
        for pictures nobody looks at. `None` when there is no heatmap.
        """
        if self.heatmap is None:
            return None
        if self._visualization is None:
            self._visualization = rendering.overlay(
                self.image_b, self.heatmap, self.display_scale
            )
        return self._visualization

    def save_figure(self, path, *, dpi: int = 100) -> str:
        """Saves image 1, image 2 and the heatmap overlay with its regions.

        The format follows the extension of `path`; an existing file there is
        replaced (it is the destination the caller named).

        Returns:
            The path written, as a string.
        """
        return rendering.save_comparison_figure(path, self, dpi=dpi)

    def __repr__(self) -> str:
        return (
            f"ComparisonResult(similarity={self.similarity:.4f}, "
            f"distance={self.distance:.4f}, same={self.same}, "
            f"method={self.method!r})"
        )

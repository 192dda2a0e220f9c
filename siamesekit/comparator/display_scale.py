"""The fixed colour scale each heatmap method is drawn on.

A map is never stretched per image (that would paint two identical images
full range). Instead every method has one documented curve from its values
to [0, 1]: `t = log(1 + v / knee) / log(1 + top / knee)`, clipped. Below the
knee the curve is nearly linear, above it logarithmic, so a small real
difference (a "features" value of 0.01 is ~0.5 on the scale) stands out
while the strongest ones still rank above it; 0 maps to exactly 0, so
identical images draw as "no difference".
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class DisplayScale:
    """How the values of one heatmap method map to colour.

    Attributes:
        knee: float, where the curve turns from linear to logarithmic.
        top: float, the value drawn at full strength; larger ones saturate.
        label: str, what the values are, for the colorbar.
        per_pixel_total: bool, `True` for maps of shares (values are
            multiplied by the pixel count first, so `1` means "the whole
            score spread evenly").
        region_floor: float, the least value (after that multiplication) a
            region of `ComparisonResult.regions` may hold.
    """

    knee: float
    top: float
    label: str
    per_pixel_total: bool = False
    region_floor: float = 0.0

    def values(self, heatmap) -> np.ndarray:
        """The heatmap in the units of the scale (shares times pixel count)."""
        heatmap = np.asarray(heatmap, np.float64)
        if self.per_pixel_total:
            heatmap = heatmap * heatmap.size
        return heatmap

    def forward(self, values) -> np.ndarray:
        """Scale units -> [0, 1]; negative values map to 0."""
        values = np.maximum(np.asarray(values, np.float64), 0.0)
        curve = np.log1p(values / self.knee) / np.log1p(self.top / self.knee)
        return np.clip(curve, 0.0, 1.0)

    def inverse(self, strength) -> np.ndarray:
        """[0, 1] -> scale units (for colorbar ticks)."""
        strength = np.asarray(strength, np.float64)
        return self.knee * np.expm1(strength * np.log1p(self.top / self.knee))

    def strength(self, heatmap) -> np.ndarray:
        """A heatmap -> its strength in [0, 1] per pixel."""
        return self.forward(self.values(heatmap))


# Measured on a random-weight VGG16 at 224x224 (benchmarks/bench_heatmaps.py):
# the largest "features" value inside an edit has a median of 0.027 (10% of
# edits under 0.011); copies that only went through JPEG re-encoding peak
# under 0.0125, through sensor noise at a median of 0.007, through a 1-3
# pixel shift at a median of 0.02.
SCALES = {
    "features": DisplayScale(
        knee=0.003,
        top=0.06,
        label="feature difference (1 - cos) / 2",
        region_floor=0.01,
    ),
    "lpips": DisplayScale(
        knee=0.003,
        top=0.15,
        label="feature difference (1 - cos) / 2 (LPIPS-style)",
        region_floor=0.01,
    ),
    "attribution": DisplayScale(
        knee=0.005,
        top=0.5,
        label="share of 1 - cos per pixel x pixel count",
        per_pixel_total=True,
        region_floor=0.01,
    ),
    "pixels": DisplayScale(
        knee=0.01,
        top=0.5,
        label="pixel difference (1 - SSIM) / 2",
        region_floor=0.05,
    ),
}


def display_scale(method: str) -> DisplayScale:
    """The `DisplayScale` of a heatmap method."""
    return SCALES[method]

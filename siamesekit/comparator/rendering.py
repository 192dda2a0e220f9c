"""Drawing heatmaps: colour overlays and a matplotlib figure.

The colour of a value follows its method's fixed `DisplayScale`: strength
`t` in [0, 1] picks a colour from yellow (a faint difference) to dark red
(a strong one) and is also its opacity, so where the images agree image 2
shows through unchanged and "no difference" looks like no overlay at all.
"""

from __future__ import annotations

import functools
import os

import cv2
import numpy as np

from siamesekit.comparator.display_scale import DisplayScale
from siamesekit.errors import InvalidArgumentError

# The matplotlib colormap the strengths are drawn from, and the part of it
# used (its lightest end is nearly white, invisible on bright images).
COLORMAP = "YlOrRd"
_COLORMAP_START = 0.3
# The opacity of a full-strength colour.
MAX_OPACITY = 0.85


@functools.lru_cache(maxsize=1)
def _colour_table() -> np.ndarray:
    """256 RGB colours, float64 in [0, 255], weakest first."""
    from matplotlib import colormaps

    positions = np.linspace(_COLORMAP_START, 1.0, 256)
    return colormaps[COLORMAP](positions)[:, :3] * 255.0


def colorize(strength) -> np.ndarray:
    """Strengths in [0, 1] -> RGB uint8 colours of the heatmap colormap."""
    levels = np.round(np.clip(np.asarray(strength, np.float64), 0, 1) * 255)
    return np.round(_colour_table()[levels.astype(np.int64)]).astype(np.uint8)


def to_rgb_uint8(image) -> np.ndarray:
    """A 0-255 float image (grey or RGB) as RGB uint8."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, np.newaxis], 3, axis=-1)
    return np.round(np.clip(image, 0.0, 255.0)).astype(np.uint8)


def overlay(image, heatmap, scale: DisplayScale) -> np.ndarray:
    """Draws `heatmap` over `image` on its fixed scale; RGB uint8 HxWx3.

    Each pixel is `(1 - a) * image + a * colour(t)` with `t` the strength of
    its value on `scale` and `a = MAX_OPACITY * t`: an all-zero map returns
    the image itself.

    Args:
        image: float array `(height, width, channels)` in [0, 255].
        heatmap: float array `(height, width)`.
        scale: the `DisplayScale` of the map's method.
    """
    base = to_rgb_uint8(image).astype(np.float64)
    strength = scale.strength(heatmap)
    if strength.shape != base.shape[:2]:
        strength = cv2.resize(
            strength, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    opacity = (MAX_OPACITY * strength)[:, :, np.newaxis]
    colours = colorize(strength).astype(np.float64)
    return np.round((1.0 - opacity) * base + opacity * colours).astype(np.uint8)


def _colorbar_ticks(scale: DisplayScale) -> list[float]:
    """Round values spread along the scale, 0 and the top included."""
    ticks = [0.0]
    for strength in (0.25, 0.5, 0.75):
        value = float(scale.inverse(strength))
        ticks.append(float(f"{value:.1g}"))
    ticks.append(scale.top)
    return sorted(set(ticks))


_TITLES = {
    "features": "where the features differ",
    "lpips": "where the features differ (LPIPS-style)",
    "attribution": "what lowers the similarity",
    "pixels": "where the pixels differ (SSIM)",
}


def save_comparison_figure(path, result, *, dpi: int = 100) -> str:
    """Writes image 1, image 2 and the heatmap over image 2, equal in size.

    The third panel draws `result.regions` as numbered boxes; a colorbar on
    its right, labelled with what the values are, shows the fixed scale.
    Uses matplotlib's object API (no pyplot), so it never changes the user's
    matplotlib backend or open figures. An existing file at `path` is
    replaced: the caller named it as the figure's destination.

    Args:
        path: destination file; the format follows the extension (`.png`,
            `.pdf`, `.svg`, `.jpg`, ...).
        result: a `siamesekit.ComparisonResult` with a heatmap.
        dpi: resolution of raster formats. Defaults to `100`.

    Returns:
        The path written, as a string.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import FuncNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    path = os.fspath(path)
    if result.heatmap is None:
        raise InvalidArgumentError(
            "This result has no heatmap to draw; compare with method="
            "'features', 'lpips', 'attribution' or 'pixels'."
        )
    scale = result.display_scale
    figure = Figure(figsize=(11.5, 4.2), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        1,
        4,
        width_ratios=(1, 1, 1, 0.06),
        wspace=0.08,
        left=0.01,
        right=0.91,
        bottom=0.03,
        top=0.86,
    )
    panels = (
        (to_rgb_uint8(result.image_a), "image 1"),
        (to_rgb_uint8(result.image_b), "image 2"),
        (result.visualization, f"{result.method}: {_TITLES[result.method]}"),
    )
    for column, (pixels, label) in enumerate(panels):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(pixels)
        axis.set_title(label, fontsize=11)
        axis.set_axis_off()
    for number, region in enumerate(result.regions, start=1):
        axis.add_patch(
            Rectangle(
                (region.x - 0.5, region.y - 0.5),
                region.width,
                region.height,
                fill=False,
                edgecolor="#00e5ff",
                linewidth=1.5,
            )
        )
        axis.text(
            region.x,
            region.y - 1.5,
            str(number),
            color="#00e5ff",
            fontsize=9,
            fontweight="bold",
            verticalalignment="bottom",
        )
    norm = FuncNorm((scale.forward, scale.inverse), vmin=0.0, vmax=scale.top)
    colormap = ListedColormap(_colour_table() / 255.0)
    colorbar = figure.colorbar(
        ScalarMappable(norm=norm, cmap=colormap),
        cax=figure.add_subplot(grid[0, 3]),
        ticks=_colorbar_ticks(scale),
    )
    colorbar.set_label(scale.label, fontsize=9)
    verdict = ""
    if result.same is not None:
        verdict = "  (same)" if result.same else "  (different)"
    figure.suptitle(
        f"cosine similarity {result.similarity:.4f}    "
        f"Euclidean distance {result.distance:.4f}{verdict}"
    )
    try:
        figure.savefig(path)
    except ValueError as error:  # unknown extension
        raise InvalidArgumentError(
            f"Cannot write a figure to {path!r}: {error}"
        ) from error
    return path

"""Drawing heatmaps: OpenCV colour overlays and a matplotlib figure."""

from __future__ import annotations

import os

import cv2
import numpy as np

from siamesekit.errors import InvalidArgumentError

COLORMAP = cv2.COLORMAP_JET


def display_range(method: str, size: tuple[int, int]) -> tuple[float, float]:
    """The fixed value range a heatmap of `method` is drawn on.

    "features" and "pixels" maps lie in [0, 1]; they are drawn on [0, 0.5],
    where 0.5 means orthogonal features (or uncorrelated pixels). An
    "attribution" map of an `height x width` image sums to the cosine
    similarity; it is drawn on +-2 / (height * width), twice the share
    each pixel gets when two identical images match perfectly.
    """
    if method == "attribution":
        limit = 2.0 / float(size[0] * size[1])
        return (-limit, limit)
    return (0.0, 0.5)


def colorize(heatmap, value_range) -> np.ndarray:
    """Maps values to RGB uint8 colours with the OpenCV jet colormap."""
    low, high = value_range
    scaled = (np.asarray(heatmap, np.float64) - low) / (high - low)
    levels = np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    # OpenCV colormaps return BGR.
    return cv2.cvtColor(cv2.applyColorMap(levels, COLORMAP), cv2.COLOR_BGR2RGB)


def to_rgb_uint8(image) -> np.ndarray:
    """A 0-255 float image (grey or RGB) as RGB uint8."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, np.newaxis], 3, axis=-1)
    return np.round(np.clip(image, 0.0, 255.0)).astype(np.uint8)


def overlay(image, heatmap, value_range, opacity: float = 0.5) -> np.ndarray:
    """Blends the colourized `heatmap` over `image`; returns RGB uint8 HxWx3.

    Args:
        image: float array `(height, width, channels)` in [0, 255].
        heatmap: float array `(height, width)`.
        value_range: `(low, high)` mapped to the ends of the colormap.
        opacity: float in [0, 1], weight of the heatmap colours. Defaults to
            `0.5`.
    """
    base = to_rgb_uint8(image)
    colours = colorize(heatmap, value_range)
    if colours.shape[:2] != base.shape[:2]:
        colours = cv2.resize(
            colours, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    return cv2.addWeighted(colours, opacity, base, 1.0 - opacity, 0.0)


def _colormap_for_matplotlib():
    from matplotlib.colors import ListedColormap

    levels = np.arange(256, dtype=np.uint8).reshape(-1, 1)
    rgb = cv2.cvtColor(cv2.applyColorMap(levels, COLORMAP), cv2.COLOR_BGR2RGB)
    return ListedColormap(rgb.reshape(-1, 3) / 255.0, name="opencv_jet")


def save_comparison_figure(path, result, *, dpi: int = 100) -> str:
    """Writes image 1, image 2 and the overlay side by side, with a colorbar.

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
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    path = os.fspath(path)
    if result.heatmap is None:
        raise InvalidArgumentError(
            "This result has no heatmap to draw; compare with method="
            "'features', 'attribution' or 'pixels'."
        )
    figure = Figure(figsize=(12.0, 4.4), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    panels = (
        (to_rgb_uint8(result.image_a), "image 1"),
        (to_rgb_uint8(result.image_b), "image 2"),
        (result.visualization, f"{result.method} map over image 2"),
    )
    for axis, (pixels, label) in zip(axes, panels):
        axis.imshow(pixels)
        axis.set_title(label)
        axis.set_axis_off()
    colour_scale = ScalarMappable(
        norm=Normalize(*result.heatmap_range), cmap=_colormap_for_matplotlib()
    )
    figure.colorbar(colour_scale, ax=axes[2], fraction=0.046, pad=0.04)
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

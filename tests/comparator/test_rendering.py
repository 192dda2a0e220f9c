import cv2
import numpy as np
import pytest

import siamesekit
from siamesekit.comparator import rendering
from siamesekit.comparator.display_scale import DisplayScale, display_scale
from siamesekit.errors import InvalidArgumentError


def test_colour_scale_on_a_known_map():
    scale = DisplayScale(knee=0.01, top=0.09, label="test")
    # t = log(1 + v / knee) / log(1 + top / knee) = log(1 + v / 0.01) / log(10)
    values = np.array([0.0, 0.01 * (np.sqrt(10) - 1), 0.09, 0.5, -0.2])
    np.testing.assert_allclose(scale.forward(values), [0.0, 0.5, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(scale.inverse(scale.forward(values[:3])), values[:3])
    # The "features" scale shows a small real difference at half strength or
    # more: 0.01 -> log(1 + 10 / 3) / log(21) = 0.4816.
    assert display_scale("features").forward(0.01) == pytest.approx(0.4816, abs=1e-4)
    # Shares maps are read per pixel times the pixel count.
    shares = DisplayScale(knee=1.0, top=3.0, label="s", per_pixel_total=True)
    np.testing.assert_allclose(shares.values(np.full((2, 2), 0.25)), 1.0)


def test_colours_run_from_yellow_to_dark_red():
    weak, strong = rendering.colorize(np.array([0.0, 1.0]))
    red, green, blue = weak.astype(int)
    assert red > 240 and green > 150 and blue < 120  # light orange-yellow
    red, green, blue = strong.astype(int)
    assert red > 100 and green < 10 and blue < 60  # dark red


def test_overlay_leaves_agreeing_pixels_untouched():
    image = np.full((8, 6, 1), 200.0, np.float32)
    heatmap = np.zeros((8, 6), np.float32)
    heatmap[2, 3] = 1.0  # saturates
    scale = display_scale("features")
    out = rendering.overlay(image, heatmap, scale)
    assert out.shape == (8, 6, 3) and out.dtype == np.uint8
    untouched = np.ones((8, 6), bool)
    untouched[2, 3] = False
    assert (out[untouched] == 200).all()
    colour = rendering.colorize(np.array(1.0)).astype(float)
    opacity = rendering.MAX_OPACITY
    expected = np.round((1 - opacity) * 200 + opacity * colour)
    np.testing.assert_allclose(out[2, 3], expected, atol=1)


def _panel_sizes(path):
    """Widths and heights of the three image panels of a saved figure."""
    written = cv2.imread(str(path))
    # The panels are the only large non-white areas in a row.
    columns = np.where((written < 250).any(axis=2).sum(axis=0) > 100)[0]
    runs = np.split(columns, np.where(np.diff(columns) > 1)[0] + 1)
    return [len(run) for run in runs if len(run) > 50]


def test_result_figure_and_visualization(tmp_path, rng):
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(32, 32, 3),
        weights=None,
        dense_units=16,
        embedding_dim=8,
    )
    comparator = siamesekit.Comparator(tower, precision="float32")
    image = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    same = comparator.compare(image, image)
    # No difference, no overlay: the visualization is image 2 itself.
    np.testing.assert_array_equal(same.visualization, image)
    assert same.regions == []
    result = comparator.compare(image, image[::-1])
    path = tmp_path / "figure.png"
    assert result.save_figure(path) == str(path)
    widths = _panel_sizes(path)
    assert len(widths) == 3 and max(widths) - min(widths) <= 2, widths
    # The figure is an output the caller named: saving again replaces it.
    path.write_bytes(b"old")
    result.save_figure(path)
    assert cv2.imread(str(path)) is not None
    with pytest.raises(InvalidArgumentError, match="figure.xyz"):
        result.save_figure(tmp_path / "figure.xyz")
    scores_only = comparator.compare(image, image, method=None)
    assert scores_only.visualization is None
    assert scores_only.regions == []
    with pytest.raises(InvalidArgumentError, match="no heatmap"):
        scores_only.save_figure(tmp_path / "none.png")

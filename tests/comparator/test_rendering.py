import cv2
import numpy as np
import pytest

import siamesekit
from siamesekit.comparator import rendering
from siamesekit.errors import InvalidArgumentError


def test_colormap_is_rgb_on_a_fixed_range():
    colours = rendering.colorize(np.array([[0.0, 0.5, 1.0]]), (0.0, 0.5))
    # Jet runs from dark blue to dark red; values above the range saturate.
    low, high, above = colours[0]
    assert low[2] > 100 and low[0] == 0
    assert high[0] > 100 and high[2] == 0
    np.testing.assert_array_equal(high, above)


def test_overlay_blends_heatmap_over_image():
    image = np.full((8, 6, 1), 200.0, np.float32)
    heatmap = np.zeros((8, 6), np.float32)
    out = rendering.overlay(image, heatmap, (0.0, 0.5), opacity=0.5)
    assert out.shape == (8, 6, 3) and out.dtype == np.uint8
    blue = rendering.colorize(heatmap, (0.0, 0.5))
    expected = np.round(0.5 * blue.astype(float) + 0.5 * 200.0)
    np.testing.assert_allclose(out, expected, atol=1)


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
    # All-zero map: the overlay is the image tinted by one colour everywhere.
    tint = same.visualization.astype(int) - rendering.to_rgb_uint8(image) // 2
    assert np.ptp(tint.reshape(-1, 3), axis=0).max() <= 1
    result = comparator.compare(image, image[::-1])
    path = tmp_path / "figure.png"
    assert result.save_figure(path) == str(path)
    written = cv2.imread(str(path))
    assert written is not None and written.shape[1] > written.shape[0]
    # The figure is an output the caller named: saving again replaces it.
    path.write_bytes(b"old")
    result.save_figure(path)
    assert cv2.imread(str(path)) is not None
    with pytest.raises(InvalidArgumentError, match="figure.xyz"):
        result.save_figure(tmp_path / "figure.xyz")
    scores_only = comparator.compare(image, image, method=None)
    assert scores_only.visualization is None
    with pytest.raises(InvalidArgumentError, match="no heatmap"):
        scores_only.save_figure(tmp_path / "none.png")

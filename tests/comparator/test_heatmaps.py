import numpy as np
import pytest
from keras import ops

import siamesekit
from siamesekit.comparator import attribution, heatmaps
from siamesekit.errors import InvalidArgumentError


def _tower(pooling="flatten", normalize=False, input_shape=(32, 32, 3), **options):
    options.setdefault("standardize", False)
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=input_shape,
        weights=None,
        pooling=pooling,
        dense_units=16,
        embedding_dim=8,
        normalize=normalize,
        **options,
    )
    tower.build((None,) + input_shape)
    return tower


def _feature_map(tower, image):
    features = tower.backbone(tower.preprocess(image[np.newaxis]))
    return ops.convert_to_numpy(features)[0]


def _zero_dense_biases(tower):
    for layer in (tower.hidden, tower.embedding):
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, np.zeros_like(bias)])


def _position_terms_and_cosine(tower, images):
    """Sum of image 0's position terms, and cos(e_0, e_1), both in float64."""
    embeddings = ops.convert_to_numpy(tower(images)).astype(np.float64)
    query = embeddings[1] / np.prod(np.linalg.norm(embeddings, axis=1))
    terms = attribution._contributions(_feature_map(tower, images[0]), tower, query)
    return terms.sum(), embeddings[0] @ query


def test_feature_map_is_half_one_minus_cosine():
    # Position 0: orthogonal -> (1 - 0) / 2; position 1: parallel -> 0.
    stage1_a = np.array([[[[1.0, 0.0], [3.0, 4.0]]]])
    stage1_b = np.array([[[[0.0, 1.0], [6.0, 8.0]]]])
    # One position, opposite vectors -> 1, spread over the map by resizing.
    stage2_a = np.array([[[[1.0, 1.0]]]])
    stage2_b = np.array([[[[-1.0, -1.0]]]])
    single = heatmaps.feature_distance_map([stage1_a], [stage1_b], (1, 2))
    np.testing.assert_allclose(ops.convert_to_numpy(single), [[[0.5, 0.0]]], atol=1e-6)
    both = heatmaps.feature_distance_map(
        [stage1_a, stage2_a], [stage1_b, stage2_b], (1, 2)
    )
    np.testing.assert_allclose(ops.convert_to_numpy(both), [[[0.75, 0.5]]], atol=1e-6)


def test_dead_features_give_zero_not_nan():
    zeros = np.zeros((1, 2, 2, 3))
    result = ops.convert_to_numpy(
        heatmaps.feature_distance_map([zeros], [zeros], (4, 4))
    )
    assert np.isfinite(result).all() and not result.any()


def test_bfloat16_features_map_stays_close_to_float32_arithmetic(rng):
    # ReLU-like stages of 2 pairs, already rounded to bfloat16 as a
    # mixed_bfloat16 tower outputs them.
    shapes = [(2, 8, 8, 64), (2, 4, 4, 512)]
    stages_a = [np.maximum(rng.normal(size=shape), 0) * 40 for shape in shapes]
    stages_b = [np.maximum(a + rng.normal(size=a.shape) * 20, 0) for a in stages_a]
    as_bfloat16 = [[ops.cast(x, "bfloat16") for x in xs] for xs in (stages_a, stages_b)]
    exact = [[ops.cast(x, "float32") for x in xs] for xs in as_bfloat16]
    fast_map = heatmaps.feature_distance_map(*as_bfloat16, (8, 8))
    exact_map = heatmaps.feature_distance_map(*exact, (8, 8))
    assert ops.convert_to_numpy(fast_map).dtype == np.float32
    # Sums rounded to bfloat16 (relative error 2**-8) move (1 - cos) / 2 by at
    # most about 2**-8 (measured here: 1.7e-3).
    np.testing.assert_allclose(fast_map, exact_map, atol=2**-8)
    same = heatmaps.feature_distance_map(as_bfloat16[0], as_bfloat16[0], (8, 8))
    assert not ops.convert_to_numpy(same).any()


def test_identical_images_give_all_zero_maps(rng):
    comparator = siamesekit.Comparator(_tower(), precision="float32")
    image = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    for method in ("features", "lpips", "pixels"):
        result = comparator.compare(image, image.copy(), method=method)
        assert result.heatmap.shape == (32, 32)
        assert result.heatmap.dtype == np.float32
        assert not result.heatmap.any(), method
        assert result.regions == [], method
    # A constant image has no structure at all: still zero, still finite.
    flat = np.full((32, 32, 3), 128, np.uint8)
    result = comparator.compare(flat, flat, method="pixels")
    assert not result.heatmap.any()


@pytest.mark.parametrize(
    "pooling, normalize", [("flatten", False), ("avg", False), ("max", True)]
)
def test_attribution_sums_to_the_reported_dissimilarity(pooling, normalize, rng):
    comparator = siamesekit.Comparator(_tower(pooling, normalize), precision="float32")
    first = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    second = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    result = comparator.compare(first, second, method="attribution")
    assert result.heatmap.shape == (32, 32)
    assert result.heatmap.sum(dtype=np.float64) == pytest.approx(
        1.0 - result.similarity, abs=1e-5
    )
    # What lowers the similarity of an image with itself: nothing.
    same = comparator.compare(first, first, method="attribution")
    assert np.abs(same.heatmap).max() < 1e-9
    assert same.regions == []


def test_attribution_also_sums_under_bfloat16(rng):
    comparator = siamesekit.Comparator(_tower(), precision="mixed_bfloat16")
    images = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    result = comparator.compare(images[0], images[1], method="attribution")
    assert result.heatmap.sum(dtype=np.float64) == pytest.approx(
        1.0 - result.similarity, abs=1e-5
    )


def test_attribution_sums_with_a_standardized_embedding(rng):
    tower = _tower(normalize=True, standardize=True)
    # Moving statistics far from the initial (0, 1), so the fold matters.
    tower.standardization.moving_mean.assign(rng.normal(size=8))
    tower.standardization.moving_variance.assign(rng.uniform(0.2, 3.0, size=8))
    comparator = siamesekit.Comparator(tower, precision="float32")
    first, second = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    result = comparator.compare(first, second, method="attribution")
    assert result.heatmap.sum(dtype=np.float64) == pytest.approx(
        1.0 - result.similarity, abs=1e-5
    )
    # Without biases and means, the position terms alone give the cosine.
    _zero_dense_biases(tower)
    tower.standardization.moving_mean.assign(np.zeros(8))
    pixels = np.stack([first, second]).astype("float32")
    terms, cosine = _position_terms_and_cosine(tower, pixels)
    assert terms == pytest.approx(cosine, rel=1e-4)


def test_attribution_sums_with_a_whitened_embedding(rng):
    tower = _tower(normalize=True, whitening=0.01)
    tower.adapt_whitening(rng.integers(0, 256, size=(24, 32, 32, 3)))
    assert not np.allclose(tower.whitening.matrix, np.eye(8), atol=0.1)
    comparator = siamesekit.Comparator(tower, precision="float32")
    first, second = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    result = comparator.compare(first, second, method="attribution")
    assert result.heatmap.sum(dtype=np.float64) == pytest.approx(
        1.0 - result.similarity, abs=1e-5
    )


def test_attribution_refuses_towers_that_average_views(rng):
    tower = _tower(normalize=True, test_time_zooms=(0.9, 1.0))
    comparator = siamesekit.Comparator(tower, precision="float32")
    first, second = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    with pytest.raises(InvalidArgumentError, match="averages 2 test-time views"):
        comparator.compare(first, second, method="attribution")
    # The features map works, and its scores are those of the averaged views.
    result = comparator.compare(first, second)
    embeddings = ops.convert_to_numpy(tower(np.stack([first, second])))
    assert result.similarity == pytest.approx(
        float(embeddings[0] @ embeddings[1]), abs=1e-5
    )


def test_position_terms_are_exact_without_biases(rng):
    # With zero biases nothing is spread evenly: the per-position terms
    # alone must add up to e_a . e_b / (|e_a| |e_b|).
    for pooling in ("flatten", "avg", "max"):
        tower = _tower(pooling)
        _zero_dense_biases(tower)
        images = rng.uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
        terms, cosine = _position_terms_and_cosine(tower, images)
        assert terms == pytest.approx(cosine, rel=1e-4), pooling


def test_attribution_matches_stylianou_formula(rng):
    # With identity Dense layers and average pooling, the embedding is the
    # average-pooled last feature map itself, where the paper's formula
    # S1(i) = A_i . b / (N |a| |b|) holds.
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(32, 32, 3),
        weights=None,
        pooling="avg",
        dense_units=128,
        embedding_dim=128,
        normalize=False,
        standardize=False,
    )
    tower.build((None, 32, 32, 3))
    identity, zeros = np.eye(128, dtype="float32"), np.zeros(128, "float32")
    tower.hidden.set_weights([identity, zeros])
    tower.embedding.set_weights([identity, zeros])
    images = rng.uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    maps_a, maps_b = (_feature_map(tower, image) for image in images)
    pooled_a, pooled_b = maps_a.mean(axis=(0, 1)), maps_b.mean(axis=(0, 1))
    embeddings = ops.convert_to_numpy(tower(images))
    np.testing.assert_allclose(embeddings[0], pooled_a, rtol=1e-5, atol=1e-6)
    grid_a, grid_b = attribution.similarity_shares(
        maps_a, maps_b, embeddings[0], embeddings[1], tower
    )
    positions = maps_a.shape[0] * maps_a.shape[1]
    scale = positions * np.linalg.norm(pooled_a) * np.linalg.norm(pooled_b)
    np.testing.assert_allclose(grid_a, maps_a @ pooled_b / scale, rtol=1e-4)
    np.testing.assert_allclose(grid_b, maps_b @ pooled_a / scale, rtol=1e-4)


@pytest.mark.parametrize("grid_shape, size", [((7, 7), (224, 224)), ((3, 5), (32, 20))])
def test_upsampling_keeps_the_total(grid_shape, size, rng):
    grid = rng.normal(size=grid_shape)
    upsampled = attribution.upsample_preserving_sum(grid, size)
    assert upsampled.shape == size
    assert upsampled.sum() == pytest.approx(grid.sum(), rel=1e-9, abs=1e-9)
    one_cell = np.zeros(grid_shape)
    one_cell[1, 2] = 1.0
    peak = np.unravel_index(
        np.argmax(attribution.upsample_preserving_sum(one_cell, size)), size
    )
    assert peak[0] * grid_shape[0] // size[0] == 1
    assert peak[1] * grid_shape[1] // size[1] == 2


def test_pixel_map_marks_the_changed_square(rng):
    image = rng.uniform(0, 255, size=(40, 40, 3))
    changed = image.copy()
    changed[10:20, 10:20] = rng.uniform(0, 255, size=(10, 10, 3))
    difference = heatmaps.pixel_difference_map(image, changed)
    assert difference.dtype == np.float32
    assert 0.0 <= difference.min() and difference.max() <= 1.0
    assert difference[12:18, 12:18].min() > difference[30:, 30:].max()
    with pytest.raises(InvalidArgumentError, match="same shape"):
        heatmaps.pixel_difference_map(image, image[:30])
    with pytest.raises(InvalidArgumentError, match="method='ssim'"):
        heatmaps.check_method("ssim")


def _brute_force_nearest(unit_a, unit_b, radius):
    """Per position of b: min over |d| <= radius of |a(p + d) - b(p)|^2 / 4."""
    height, width = unit_b.shape[:2]
    nearest = np.full((height, width), np.inf)
    for y in range(height):
        for x in range(width):
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    source = unit_a[
                        min(max(y + dy, 0), height - 1), min(max(x + dx, 0), width - 1)
                    ]
                    distance = np.sum(np.square(source - unit_b[y, x])) / 4
                    nearest[y, x] = min(nearest[y, x], distance)
    return nearest


# A radius of 3 reaches past half the grid; 9 x 10 spans several tiles of
# the search, with a remainder.
@pytest.mark.parametrize(
    "radius, shape", [(1, (6, 5)), (2, (6, 5)), (3, (6, 5)), (2, (9, 10))]
)
def test_shift_tolerant_distances_match_a_brute_force_search(radius, shape, rng):
    a = ops.convert_to_numpy(heatmaps._unit_features(rng.random((2,) + shape + (3,))))
    b = ops.convert_to_numpy(heatmaps._unit_features(rng.random((2,) + shape + (3,))))
    into_b, into_a = heatmaps._nearest_match_distances(a, b, radius)
    for pair in range(2):
        np.testing.assert_allclose(
            ops.convert_to_numpy(into_b)[pair, :, :, 0],
            _brute_force_nearest(a[pair], b[pair], radius),
            atol=1e-6,
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(into_a)[pair, :, :, 0],
            _brute_force_nearest(b[pair], a[pair], radius),
            atol=1e-6,
        )
    # A copy moved down by one row matches everywhere, both ways, but for
    # the last row of the original: it left the frame.
    moved = np.concatenate([a[:, :1], a[:, :-1]], axis=1)
    into_moved, into_original = heatmaps._nearest_match_distances(a, moved, radius)
    assert ops.convert_to_numpy(into_moved).max() < 1e-6
    into_original = ops.convert_to_numpy(into_original)
    assert into_original[:, :-1].max() < 1e-6
    assert into_original[:, -1].min() > 1e-4

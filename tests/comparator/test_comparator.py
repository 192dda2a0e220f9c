import cv2
import keras
import numpy as np
import pytest
from keras import ops

import siamesekit
from siamesekit.errors import (
    ImageError,
    ImageNotFoundError,
    InvalidArgumentError,
    ModelFileError,
)


def _model(threshold=0.5, input_shape=(32, 32, 3), **options):
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=input_shape,
        weights=None,
        dense_units=16,
        embedding_dim=8,
        **options,
    )
    model = siamesekit.SiameseModel(tower, threshold=threshold)
    shape = (None,) + input_shape
    model.build((shape, shape))
    return model


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(4, 32, 32, 3)).astype(np.uint8)


def _write_png(path, rgb):
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    return path


def test_scores_match_the_siamese_model(images):
    model = _model()
    comparator = siamesekit.Comparator(model, precision="float32")
    pixels = images.astype("float32")
    expected_distance = ops.convert_to_numpy(model((pixels[:2], pixels[2:])))
    expected_similarity = ops.convert_to_numpy(
        model.cosine_similarity((pixels[:2], pixels[2:]))
    )
    results = comparator.compare_many([(images[0], images[2]), (images[1], images[3])])
    for i, result in enumerate(results):
        assert result.distance == pytest.approx(expected_distance[i], rel=1e-5)
        assert result.similarity == pytest.approx(expected_similarity[i], abs=1e-6)
        assert result.same == bool(expected_distance[i] < 0.5)
        np.testing.assert_array_equal(result.image_a, pixels[i])
    single = comparator.compare(images[0], images[2])
    assert single.similarity == pytest.approx(results[0].similarity, abs=1e-6)


def test_threshold_decides_same(images):
    far = siamesekit.Comparator(_model(threshold=1e-9), precision="float32")
    near = siamesekit.Comparator(_model(threshold=1e9), precision="float32")
    assert far.compare(images[0], images[1]).same is False
    assert near.compare(images[0], images[1]).same is True
    tower_only = siamesekit.Comparator(_model().tower, precision="float32")
    assert tower_only.compare(images[0], images[1]).same is None


def test_embed_accepts_paths_bytes_and_arrays(tmp_path, images):
    model = _model()
    comparator = siamesekit.Comparator(model, precision="float32")
    path = _write_png(tmp_path / "a.png", images[0])
    embeddings = comparator.embed(
        [path, str(path), path.read_bytes(), images[0], images[1]]
    )
    assert embeddings.dtype == np.float32 and embeddings.shape == (5, 8)
    expected = ops.convert_to_numpy(model.tower(images[:2].astype("float32")))
    for row in range(4):
        np.testing.assert_allclose(embeddings[row], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(embeddings[4], expected[1], rtol=1e-5, atol=1e-6)
    batch = comparator.embed(images)
    assert batch.shape == (4, 8)
    assert comparator.embed([]).shape == (0, 8)


def test_one_forward_pass_per_distinct_image(images):
    comparator = siamesekit.Comparator(_model(), precision="float32", batch_size=3)
    batch_sizes = []
    original = comparator._embed_function

    def counting(batch):
        batch_sizes.append(len(batch))
        return original(batch)

    comparator._embed_function = counting
    sources = [images[0], images[1], images[0], images[2], images[1], images[3]]
    comparator.embed(sources)
    assert batch_sizes == [3, 1]

    batch_sizes.clear()
    comparator.compare_many([(images[0], images[1]), (images[0], images[2])], None)
    assert sum(batch_sizes) == 3

    seen = []
    features = comparator._features_function

    def counting_features(batch, index_a, index_b):
        seen.append(len(batch))
        return features(batch, index_a, index_b)

    comparator._features_function = counting_features
    pairs = [(images[0], images[1]), (images[0], images[2]), (images[0], images[3])]
    results = comparator.compare_many(pairs)
    # batch_size=3: {0, 1, 2} in one pass, then {0, 3}.
    assert seen == [3, 2]
    alone = comparator.compare(images[0], images[3])
    np.testing.assert_allclose(results[2].heatmap, alone.heatmap, atol=1e-6)


def test_similarity_matrix_chunks_and_memmap(tmp_path, images):
    comparator = siamesekit.Comparator(_model(), precision="float32")
    embeddings = comparator.embed(images).astype(np.float64)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    expected = unit @ unit.T
    full = comparator.similarity_matrix(images)
    np.testing.assert_allclose(full, expected, atol=1e-6)
    chunked = comparator.similarity_matrix(images, chunk_size=3)
    np.testing.assert_allclose(chunked, full, atol=1e-6)
    out = np.lib.format.open_memmap(
        tmp_path / "m.npy", mode="w+", dtype=np.float32, shape=(2, 4)
    )
    comparator.similarity_matrix(images[:2], images, chunk_size=1, out=out)
    np.testing.assert_allclose(out, expected[:2], atol=1e-6)
    with pytest.raises(InvalidArgumentError, match="out.shape"):
        comparator.similarity_matrix(images, out=np.empty((3, 3), np.float32))
    with pytest.raises(InvalidArgumentError, match="chunk_size"):
        comparator.similarity_matrix(images, chunk_size=0)


def test_progress_bar_switch(capsys, images):
    quiet = siamesekit.Comparator(_model(), precision="float32", progress=False)
    quiet.embed(images)
    assert capsys.readouterr().out == ""
    loud = siamesekit.Comparator(_model(), precision="float32", progress=True)
    loud.embed(images)
    assert "4/4" in capsys.readouterr().out


def test_from_saved_round_trip(tmp_path, images):
    model = _model(threshold=0.25)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = siamesekit.Comparator.from_saved(path, precision="float32")
    assert loaded.threshold == 0.25
    direct = siamesekit.Comparator(model, precision="float32")
    first, second = images[0], images[1]
    assert loaded.compare(first, second).distance == pytest.approx(
        direct.compare(first, second).distance, rel=1e-5
    )
    with pytest.raises(ModelFileError, match="missing.keras"):
        siamesekit.Comparator.from_saved(tmp_path / "missing.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match="broken.keras"):
        siamesekit.Comparator.from_saved(broken)


def test_standardized_tower_with_views_scores_the_same_after_reload(
    tmp_path, images, rng
):
    model = _model(
        normalize=True,
        standardize=True,
        test_time_zooms=(0.9, 1.0, 1.1),
        test_time_flip=True,
    )
    standardization = model.tower.standardization
    standardization.moving_mean.assign(rng.normal(size=8))
    standardization.moving_variance.assign(rng.uniform(0.2, 3.0, size=8))
    pixels = images.astype("float32")
    expected = ops.convert_to_numpy(model((pixels[:2], pixels[2:])))
    path = tmp_path / "views.keras"
    model.save(path)
    loaded = siamesekit.Comparator.from_saved(path, precision="float32")
    assert loaded.tower.num_test_time_views == 6
    for method in (None, "features"):
        results = loaded.compare_many(
            [(images[0], images[2]), (images[1], images[3])], method=method
        )
        distances = [result.distance for result in results]
        np.testing.assert_allclose(distances, expected, rtol=1e-5)
    # The mixed precision copy keeps the moving statistics.
    copy = siamesekit.Comparator(model, precision="mixed_bfloat16").tower
    assert copy is not model.tower
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(getattr(copy.standardization, name)),
            ops.convert_to_numpy(getattr(standardization, name)),
        )


def test_bad_inputs_are_typed_errors(tmp_path, images):
    comparator = siamesekit.Comparator(_model(), precision="float32")
    with pytest.raises(ImageNotFoundError, match="nope.png"):
        comparator.compare(tmp_path / "nope.png", images[0])
    nan = np.full((32, 32, 3), np.nan, np.float32)
    with pytest.raises(ImageError, match="NaN"):
        comparator.compare(images[0], nan)
    with pytest.raises(InvalidArgumentError, match="method"):
        comparator.compare(images[0], images[1], method="gradcam")
    with pytest.raises(InvalidArgumentError, match=r"\[image\]"):
        comparator.embed(images[0])
    with pytest.raises(InvalidArgumentError, match="pairs"):
        comparator.compare_many([images[0]])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        siamesekit.Comparator(_model(), batch_size=0)
    with pytest.raises(InvalidArgumentError, match="model_or_tower"):
        siamesekit.Comparator("model.keras")


def test_grey_model_and_generic_tower(rng):
    grey = siamesekit.Comparator(_model(input_shape=(24, 20, 1)), precision="float32")
    colour = rng.integers(0, 256, size=(48, 40, 3)).astype(np.uint8)
    result = grey.compare(colour, colour[::-1])
    assert result.image_a.shape == (24, 20, 1)
    assert result.visualization.shape == (24, 20, 3)

    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(inputs))
    generic = siamesekit.Comparator(keras.Model(inputs, outputs))
    assert generic.embed([colour]).shape == (1, 4)
    assert generic.compare(colour, colour, method="pixels").heatmap.shape == (16, 16)
    with pytest.raises(InvalidArgumentError, match="method='pixels'"):
        generic.compare(colour, colour)


def test_comparator_sees_new_weights_without_being_rebuilt(rng):
    # jax.jit of a closure over the tower would keep the first weights.
    def small_tower():
        return siamesekit.EmbeddingTower(
            backbone="small_cnn",
            input_shape=(16, 16, 1),
            weights=None,
            dense_units=16,
            embedding_dim=4,
        )

    tower, other = small_tower(), small_tower()
    images = rng.uniform(0, 255, (3, 16, 16, 1)).astype("float32")
    other(images)
    comparator = siamesekit.Comparator(tower, precision="float32")
    before = comparator.embed(images)
    tower.set_weights(other.get_weights())  # other random weights
    after = comparator.embed(images)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(
        after, keras.ops.convert_to_numpy(tower(images)), atol=1e-5
    )

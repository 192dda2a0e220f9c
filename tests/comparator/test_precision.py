import keras
import numpy as np
import pytest
from scipy.stats import spearmanr

import siamesekit
from siamesekit.comparator import precision
from siamesekit.errors import InvalidArgumentError


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 {flags}\n\n")
    return str(path)


def test_cpu_flags_are_read(tmp_path):
    assert precision.cpu_has_fast_bfloat16(_cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert precision.cpu_has_fast_bfloat16(_cpuinfo(tmp_path, "amx_bf16 amx_tile"))
    assert not precision.cpu_has_fast_bfloat16(_cpuinfo(tmp_path, "avx2 avx512f"))
    assert not precision.cpu_has_fast_bfloat16(str(tmp_path / "absent"))


def test_auto_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "has_nvidia_gpu", lambda: True)
    assert precision.resolve_precision("auto") == "mixed_float16"
    monkeypatch.setattr(precision, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(precision, "cpu_has_fast_bfloat16", lambda: True)
    assert precision.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(precision, "cpu_has_fast_bfloat16", lambda: False)
    assert precision.resolve_precision("auto") == "float32"
    assert precision.resolve_precision("mixed_float16") == "mixed_float16"
    with pytest.raises(InvalidArgumentError, match="precision='float64'"):
        precision.resolve_precision("float64")


def _tower(**options):
    options = {
        "backbone": "small_cnn",
        "input_shape": (32, 32, 3),
        "weights": None,
        "dense_units": 16,
        "embedding_dim": 8,
        **options,
    }
    tower = siamesekit.EmbeddingTower(**options)
    tower.build((None,) + tower.image_shape)
    return tower


@pytest.mark.parametrize("user_policy", ["float32", "mixed_float16"])
def test_bfloat16_copy_leaves_model_and_global_policy_alone(user_policy, rng):
    keras.config.set_dtype_policy(user_policy)
    try:
        tower = _tower()
        user_dtype = tower.backbone.get_layer("block1_conv").compute_dtype
        weights = [w.copy() for w in tower.get_weights()]
        comparator = siamesekit.Comparator(tower, precision="mixed_bfloat16")
        assert keras.config.dtype_policy().name == user_policy
        images = rng.uniform(0, 255, size=(3, 32, 32, 3)).astype("float32")
        embeddings = comparator.embed(images)
        assert keras.config.dtype_policy().name == user_policy
    finally:
        keras.config.set_dtype_policy("float32")
    assert embeddings.dtype == np.float32
    # The comparator computes in bfloat16, backbone included ...
    copy = comparator.tower
    assert copy is not tower
    conv = copy.backbone.get_layer("block1_conv")
    assert conv.compute_dtype == "bfloat16"
    # ... while the user's tower is untouched.
    assert tower.backbone.get_layer("block1_conv").compute_dtype == user_dtype
    for before, after in zip(weights, tower.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_float32_uses_the_tower_itself():
    tower = _tower()
    assert siamesekit.Comparator(tower, precision="float32").tower is tower


def test_bfloat16_and_float32_agree_on_real_faces(shared_data):
    faces = sorted((shared_data / "orl_faces").glob("s*/1.pgm"))[:8]
    faces += sorted((shared_data / "orl_faces" / "s1").glob("*.pgm"))[1:5]
    tower = _tower(input_shape=(56, 46, 1))
    exact = siamesekit.Comparator(tower, precision="float32")
    fast = siamesekit.Comparator(tower, precision="mixed_bfloat16")
    upper = np.triu_indices(len(faces), 1)
    similarity_exact = exact.similarity_matrix(faces)[upper]
    similarity_fast = fast.similarity_matrix(faces)[upper]
    # bfloat16 keeps 8 significant bits (~0.4% per value); measured here:
    # largest similarity gap 0.0027, rank correlation 0.998.
    np.testing.assert_allclose(similarity_fast, similarity_exact, atol=0.01)
    assert spearmanr(similarity_exact, similarity_fast)[0] > 0.98
    embeddings_exact, embeddings_fast = exact.embed(faces), fast.embed(faces)
    distance_exact = np.linalg.norm(
        embeddings_exact[upper[0]] - embeddings_exact[upper[1]], axis=1
    )
    distance_fast = np.linalg.norm(
        embeddings_fast[upper[0]] - embeddings_fast[upper[1]], axis=1
    )
    np.testing.assert_allclose(distance_fast, distance_exact, rtol=0.08)

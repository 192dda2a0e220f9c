"""Compile and run time of the "features" map's search, on every backend.

The shift-tolerant nearest-match search of `heatmaps.difference_map` was a
Python loop over the `(2 radius + 1)^2` displacements, unrolled into the
traced graph (kept here as `unrolled_search`); it is now one matrix product
per tile of positions for all displacements together
(`heatmaps._nearest_match_distances`). For each Keras backend, in its own
process, this measures both on the same inputs:

- first call: tracing, compiling and one run of a newly compiled function
  (what each new `Comparator` or input shape pays; `tf.function` on
  TensorFlow, `jax.jit` on JAX, eager on PyTorch);
- run: the best of `--rounds` later calls.

Cases: `difference_map` on the five VGG16 stages of 4 pairs of 224x224
images (random ReLU features), and a whole `Comparator.compare` ("features")
of one pair on a 32x32 small_cnn tower, as the tests build them; on request
(`--cases`) also `Comparator.compare_many` of 4 pairs on a 224x224 VGG16
tower, the speed users see. The two
implementations alternate, after a warm-up of each, so that load from other
processes hits both alike. Run:

    .venv/bin/python benchmarks/bench_heatmap_compile.py [--rounds 5]
        [--backends tensorflow jax torch] [--cases ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

VGG16_STAGES = [(224, 64), (112, 128), (56, 256), (28, 512), (14, 512)]


def unrolled_search(unit_a, unit_b, radius):
    """The loop over displacements that `_nearest_match_distances` replaced."""
    from keras import ops

    from siamesekit.comparator.heatmaps import _repeat_edges

    height, width = unit_b.shape[1], unit_b.shape[2]
    squared_a = ops.sum(ops.square(unit_a), axis=-1, keepdims=True)
    squared_b = ops.sum(ops.square(unit_b), axis=-1, keepdims=True)
    wide_b = _repeat_edges(unit_b, radius)
    wide_squared_b = _repeat_edges(squared_b, radius)
    wider_a = _repeat_edges(unit_a, 2 * radius)
    wider_squared_a = _repeat_edges(squared_a, 2 * radius)
    span_height, span_width = height + 2 * radius, width + 2 * radius
    inner = np.s_[:, radius : radius + height, radius : radius + width]
    into_b = into_a = None
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            window = wider_a[:, dy : dy + span_height, dx : dx + span_width]
            dot = ops.sum(window * wide_b, axis=-1, keepdims=True)
            window_squared = wider_squared_a[
                :, dy + radius : dy + radius + height, dx + radius : dx + radius + width
            ]
            to_b = (window_squared + squared_b - 2.0 * dot[inner]) / 4.0
            top, left = 2 * radius - dy, 2 * radius - dx
            moved = np.s_[:, top : top + height, left : left + width]
            to_a = (wide_squared_b[moved] + squared_a - 2.0 * dot[moved]) / 4.0
            into_b = to_b if into_b is None else ops.minimum(into_b, to_b)
            into_a = to_a if into_a is None else ops.minimum(into_a, to_a)
    return ops.maximum(into_b, 0.0), ops.maximum(into_a, 0.0)


def _timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(rounds: int, selected: list[str]) -> dict:
    """Runs in a process of one backend: seconds per case and search."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from keras import ops

    import siamesekit
    from siamesekit.comparator import heatmaps
    from siamesekit.compiled import compile_inference

    searches = {
        "unrolled": unrolled_search,
        "batched": heatmaps._nearest_match_distances,
    }
    rng = np.random.default_rng(0)
    stages_a = [
        np.maximum(rng.normal(size=(4, side, side, channels)), 0).astype("float32")
        for side, channels in VGG16_STAGES
    ]
    stages_b = [
        np.maximum(a + rng.normal(size=a.shape), 0).astype("float32") for a in stages_a
    ]
    keras.utils.set_random_seed(0)
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn", input_shape=(32, 32, 3), weights=None
    )
    tower.build((None, 32, 32, 3))
    images = rng.integers(0, 256, size=(2, 32, 32, 3)).astype("uint8")

    def stages_case():
        function = compile_inference(
            lambda a, b: heatmaps.difference_map(a, b, (224, 224)), []
        )
        return lambda: ops.convert_to_numpy(function(stages_a, stages_b))

    def comparator_case():
        comparator = siamesekit.Comparator(tower, precision="float32", progress=False)
        return lambda: comparator.compare(images[0], images[1])

    def vgg16_comparator_case():
        comparator = siamesekit.Comparator(vgg16, precision="float32", progress=False)
        return lambda: comparator.compare_many(vgg16_pairs)

    vgg16 = siamesekit.EmbeddingTower(
        backbone="vgg16", input_shape=(224, 224, 3), weights=None
    )
    vgg16.build((None, 224, 224, 3))
    vgg16_pairs = [
        tuple(rng.integers(0, 256, size=(2, 224, 224, 3)).astype("uint8"))
        for _ in range(4)
    ]
    cases = {
        "vgg16 stages 224 x4": stages_case,
        "comparator 32 x1": comparator_case,
        "comparator vgg16 224 x4": vgg16_comparator_case,
    }
    cases = {name: cases[name] for name in selected}
    results = {case: {name: {} for name in searches} for case in cases}
    maps = {}
    # Warm-up: the first function a process compiles also pays for the
    # backend's own start-up.
    for name, search in searches.items():
        heatmaps._nearest_match_distances = search
        comparator_case()()
    for case, make in cases.items():
        calls = {}
        for name, search in searches.items():
            heatmaps._nearest_match_distances = search
            calls[name] = make()
            results[case][name]["first"] = _timed(calls[name])
        runs = {name: [] for name in searches}
        for _ in range(rounds):
            for name, search in searches.items():
                # PyTorch runs eagerly: it looks the search up on every call.
                heatmaps._nearest_match_distances = search
                runs[name].append(_timed(calls[name]))
        for name, search in searches.items():
            results[case][name]["run"] = min(runs[name])
            if case.startswith("vgg16 stages"):
                heatmaps._nearest_match_distances = search
                maps[name] = calls[name]()
    heatmaps._nearest_match_distances = searches["batched"]
    if maps:
        results["max map difference"] = float(
            np.abs(maps["unrolled"] - maps["batched"]).max()
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["vgg16 stages 224 x4", "comparator 32 x1"],
        help="also: 'comparator vgg16 224 x4', compare_many of 4 photo-size pairs",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.rounds, args.cases)))
        return

    # The workers measure the siamesekit of this checkout, not whichever one
    # is installed: a script's own folder, not the working directory, leads
    # sys.path.
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    python_path = os.pathsep.join(
        [checkout] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    )
    results = {}
    for backend in args.backends:
        completed = subprocess.run(
            [sys.executable, __file__, "--worker", "--rounds", str(args.rounds)]
            + ["--cases", *args.cases],
            env=dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=python_path),
            capture_output=True,
            text=True,
            check=True,
        )
        results[backend] = json.loads(completed.stdout.strip().splitlines()[-1])

    print(
        f"{'case':24} {'backend':10} {'first call: unrolled':>20} {'batched':>8} "
        f"{'ratio':>6} | {'run: unrolled':>13} {'batched':>8} {'ratio':>6}"
    )
    for case in args.cases:
        for backend, result in results.items():
            old, new = result[case]["unrolled"], result[case]["batched"]
            print(
                f"{case:24} {backend:10} {old['first']:19.2f}s {new['first']:7.2f}s "
                f"{old['first'] / new['first']:5.1f}x | {old['run']:12.3f}s "
                f"{new['run']:7.3f}s {old['run'] / new['run']:5.2f}x"
            )
    for backend, result in results.items():
        if "max map difference" not in result:
            continue
        print(
            f"{backend}: largest difference between the two maps "
            f"{result['max map difference']:.1e}"
        )


if __name__ == "__main__":
    main()

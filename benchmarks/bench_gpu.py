"""An unattended GPU check on the JAX or PyTorch backend, side by side in one run.

For a machine with a GPU, JAX or PyTorch and no network (no TensorFlow is
needed: nothing here builds a `tf.data` pipeline):

1. `Comparator` throughput, float32 against mixed_float16, on VGG16 at
   224x224 with random weights: images per second of `compare_many` (scores
   and the "features" heatmap), rounds interleaved; the agreement of the two
   precisions' similarities and heatmaps (largest absolute difference).
2. `SiameseModel.fit` pairs per second on in-memory pairs, float32 against
   mixed_float16 (loss scaling where the backend needs it).

It prints ratios (mixed_float16 / float32). With `--devices N` (JAX, on a
machine with N GPUs) it also prints `fit` steps/s of a VGG16 tower with the
batch-hard triplet loss on 1 device against N under
`siamesekit.training.DataParallel`, with the same global batch of
`4 * --pairs` images on both, and their ratio (see
`benchmarks/bench_distributed.py`). With small sizes it runs on a CPU as a
smoke test:

    KERAS_BACKEND=jax python benchmarks/bench_gpu.py --size 32 --pairs 2 \\
        --steps 2 --rounds 1

Usage:
    KERAS_BACKEND=jax|torch python benchmarks/bench_gpu.py [--size 224]
        [--pairs 32] [--steps 20] [--rounds 5] [--devices N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

import siamesekit
from siamesekit.comparator.precision import has_nvidia_gpu


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--devices",
        type=int,
        default=None,
        help="also time data-parallel fit on 1 device against this many",
    )
    return parser.parse_args()


def vgg16_tower(size):
    return siamesekit.EmbeddingTower(
        backbone="vgg16", input_shape=(size, size, 3), weights=None
    )


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def compare_precisions(args, rng):
    images = rng.uniform(0, 255, (2 * args.pairs, args.size, args.size, 3))
    images = images.astype("float32")
    pairs = [(images[i], images[args.pairs + i]) for i in range(args.pairs)]
    tower = vgg16_tower(args.size)
    comparators = {
        precision: siamesekit.Comparator(
            tower, precision=precision, batch_size=2 * args.pairs
        )
        for precision in ("float32", "mixed_float16")
    }
    seconds = {precision: [] for precision in comparators}
    results = {}
    for comparator in comparators.values():
        comparator.compare_many(pairs)  # compiles
    for _ in range(args.rounds):
        for precision, comparator in comparators.items():
            elapsed, results[precision] = timed(lambda: comparator.compare_many(pairs))
            seconds[precision].append(elapsed)
    rates = {
        precision: 2 * args.pairs / statistics.median(values)
        for precision, values in seconds.items()
    }
    similarity_gap = max(
        abs(a.similarity - b.similarity)
        for a, b in zip(results["float32"], results["mixed_float16"])
    )
    heatmap_gap = max(
        float(np.max(np.abs(a.heatmap - b.heatmap)))
        for a, b in zip(results["float32"], results["mixed_float16"])
    )
    print(f"Comparator.compare_many, VGG16 {args.size}x{args.size}, features map:")
    for precision, rate in rates.items():
        print(f"  {precision:14s} {rate:8.1f} images/s")
    print(
        f"  mixed_float16 / float32: {rates['mixed_float16'] / rates['float32']:.2f}x;"
        f" largest similarity difference {similarity_gap:.2e}, heatmap "
        f"{heatmap_gap:.2e}"
    )


def fit_rates(args, rng):
    count = args.pairs * args.steps
    shape = (count, args.size, args.size, 3)
    first = rng.uniform(0, 255, shape).astype("float32")
    second = rng.uniform(0, 255, shape).astype("float32")
    labels = (np.arange(count) % 2).astype("float32")
    models = {}
    for policy in ("float32", "mixed_float16"):
        keras.config.set_dtype_policy(policy)
        try:
            model = siamesekit.SiameseModel(vgg16_tower(args.size))
            model.compile(optimizer=keras.optimizers.Adam(1e-4))
        finally:
            keras.config.set_dtype_policy("float32")
        model.fit((first, second), labels, batch_size=args.pairs, verbose=0)
        models[policy] = model
    seconds = {policy: [] for policy in models}
    for _ in range(args.rounds):
        for policy, model in models.items():
            fit = lambda: model.fit(  # noqa: E731
                (first, second), labels, batch_size=args.pairs, verbose=0
            )
            seconds[policy].append(timed(fit)[0])
    rates = {policy: count / statistics.median(v) for policy, v in seconds.items()}
    print(f"SiameseModel.fit, VGG16 {args.size}x{args.size}, batch {args.pairs}:")
    for policy, rate in rates.items():
        print(f"  {policy:14s} {rate:8.1f} pairs/s")
    print(
        f"  mixed_float16 / float32: {rates['mixed_float16'] / rates['float32']:.2f}x"
    )


def main():
    args = parse_args()
    rng = np.random.default_rng(0)
    device = "GPU" if has_nvidia_gpu() else "CPU"
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, {device}")
    compare_precisions(args, rng)
    fit_rates(args, rng)
    if args.devices:
        data_parallel(args)


def data_parallel(args):
    if keras.backend.backend() == "torch":
        print(
            "Data-parallel fit: PyTorch trains under torchrun; use KERAS_BACKEND=jax."
        )
        return
    from bench_distributed import data_parallel_rates, print_rates

    available = siamesekit.training.DataParallel().num_replicas
    if available < args.devices:
        print(f"Data-parallel fit: {args.devices} devices asked, {available} here.")
        return
    batch = 4 * args.pairs
    rates = data_parallel_rates(
        [1, args.devices],
        backbone="vgg16",
        size=args.size,
        channels=3,
        batch=batch,
        steps=args.steps,
        rounds=args.rounds,
    )
    print_rates(
        rates,
        f"Data-parallel SiameseModel.fit, VGG16 {args.size}x{args.size}, "
        f"global batch {batch}",
    )


if __name__ == "__main__":
    main()

"""Training throughput of `SiameseModel.fit`, side by side, in one run.

Measures pairs per second of three set-ups on the same tower configuration
and the same images:

1. `siamesekit.SiameseModel.fit` on `siamesekit.data.pair_dataset` (balanced
   pairs drawn per epoch, augmentation, parallel map, prefetch): the path a
   user takes.
2. A plain functional Keras Siamese model (two inputs, one shared tower, a
   distance layer, compiled `ContrastiveLoss`) on the same pipeline.
3. `SiameseModel.fit` on the same number of batches already in memory (no
   sampling, no augmentation): the step rate without the input pipeline.

Rounds are interleaved (1, 2, 3, 1, 2, 3, ...) so that machine load affects
all three alike; the median epoch time of each is reported. Goals: ratio 1/2
at least 1 (no slower than plain Keras) and an input-pipeline cost, 1 - 1/3,
below 10% of the step time.

With `--backends tensorflow jax torch`, set-up 1 runs on each Keras backend
instead: one worker process per backend (a process has one backend), all
started first and then told to run their epochs in turn, round after round,
so that the backends are timed side by side too.

Usage:
    python benchmarks/bench_training.py [--data ../shared/data/orl_faces]
        [--size 56 46] [--batch-size 32] [--steps 40] [--rounds 5]
        [--backends tensorflow jax torch]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import siamesekit  # noqa: E402
from siamesekit.data import load_image_folder, pair_dataset  # noqa: E402

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared/data/orl_faces"


class PairDistance(keras.layers.Layer):
    """Euclidean distance of two embeddings (a plain layer, no Lambda)."""

    def call(self, inputs):
        return siamesekit.euclidean_distance(*inputs)


def usable_cpus():
    """CPUs this process may run on (fewer than the machine's under taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def make_tower(image_shape):
    return siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=image_shape,
        weights=None,
        dense_units=256,
        embedding_dim=128,
        normalize=True,
    )


def plain_keras_model(image_shape):
    first = keras.Input(image_shape, name="first")
    second = keras.Input(image_shape, name="second")
    tower = make_tower(image_shape)
    distance = PairDistance()([tower(first), tower(second)])
    model = keras.Model([first, second], distance)
    model.compile(optimizer="adam", loss=siamesekit.ContrastiveLoss())
    return model


def siamese_model(image_shape):
    model = siamesekit.SiameseModel(make_tower(image_shape))
    model.compile(optimizer="adam")
    return model


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def timed_epoch(model, dataset, steps):
    timer = EpochTimer()
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=steps,
        verbose=0,
        callbacks=[timer],
        shuffle=False,
    )
    return timer.seconds


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--size", type=int, nargs=2, default=(56, 46))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def load_data(args):
    size = tuple(args.size)
    if os.path.isdir(args.data):
        folder = load_image_folder(args.data, size=size, channels=1)
        return (
            folder.images,
            folder.labels,
            f"{len(folder.images)} images from {args.data}",
        )
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (400,) + size + (1,), dtype=np.uint8)
    labels = np.repeat(np.arange(40), 10)
    return images, labels, f"400 random images ({args.data} is absent)"


def make_pipeline(args, images, labels):
    def pipeline(seed):
        return pair_dataset(
            images,
            labels,
            batch_size=args.batch_size,
            pairs_per_epoch=args.batch_size * args.steps,
            augment=True,
            seed=seed,
        ).repeat()

    return pipeline


def worker(args):
    """One backend: an epoch per line read from stdin, its seconds printed."""
    images, labels, _ = load_data(args)
    model = siamese_model(tuple(args.size) + (1,))
    dataset = make_pipeline(args, images, labels)(0)
    timed_epoch(model, dataset, args.steps)  # traces the step function
    print("ready", flush=True)
    for _ in sys.stdin:
        print(timed_epoch(model, dataset, args.steps), flush=True)


def compare_backends(args):
    pairs = args.batch_size * args.steps
    command = [
        sys.executable, __file__, "--worker", "--data", args.data,
        "--size", str(args.size[0]), str(args.size[1]),
        "--batch-size", str(args.batch_size), "--steps", str(args.steps),
    ]  # fmt: skip
    workers = {}
    for backend in args.backends:
        environment = dict(os.environ, KERAS_BACKEND=backend)
        workers[backend] = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
    for backend, process in workers.items():
        if process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {backend} worker failed to start")
    print(
        f"SiameseModel.fit on pair_dataset, {args.size[0]}x{args.size[1]} grey, "
        f"batch {args.batch_size} pairs, {args.steps} steps per epoch, "
        f"{args.rounds} interleaved rounds, {usable_cpus()} CPUs, Keras "
        f"{keras.__version__}"
    )
    seconds = {backend: [] for backend in workers}
    for _ in range(args.rounds):
        for backend, process in workers.items():
            process.stdin.write("go\n")
            process.stdin.flush()
            seconds[backend].append(float(process.stdout.readline()))
    for process in workers.values():
        process.stdin.close()
        process.wait()
    rates = {
        backend: pairs / statistics.median(values)
        for backend, values in seconds.items()
    }
    first = args.backends[0]
    for backend, rate in rates.items():
        print(
            f"  {backend:12s} {rate:8.0f} pairs/s (median of {args.rounds}), "
            f"{rate / rates[first]:.2f}x {first}"
        )


def main():
    args = parse_args()
    if args.worker:
        return worker(args)
    if args.backends:
        return compare_backends(args)

    size = tuple(args.size)
    images, labels, source = load_data(args)
    image_shape = size + (1,)
    pairs = args.batch_size * args.steps
    pipeline = make_pipeline(args, images, labels)

    # The same number of batches, materialized once: only the train step.
    in_memory = list(pipeline(99).take(args.steps))
    (first, second), pair_labels = (
        (
            np.concatenate([x[0].numpy() for x, _ in in_memory]),
            np.concatenate([x[1].numpy() for x, _ in in_memory]),
        ),
        np.concatenate([y.numpy() for _, y in in_memory]),
    )
    memory_dataset = (
        tf.data.Dataset.from_tensor_slices(((first, second), pair_labels))
        .batch(args.batch_size)
        .cache()
        .repeat()
    )

    setups = {
        "SiameseModel.fit on pair_dataset": (siamese_model(image_shape), pipeline(0)),
        "plain Keras Siamese on pair_dataset": (
            plain_keras_model(image_shape),
            pipeline(0).map(lambda x, y: ((x[0], x[1]), y)),
        ),
        "SiameseModel.fit on in-memory batches": (
            siamese_model(image_shape),
            memory_dataset,
        ),
    }
    print(
        f"{source}, {size[0]}x{size[1]} grey, batch {args.batch_size} pairs, "
        f"{args.steps} steps per epoch, {args.rounds} interleaved rounds, "
        f"{usable_cpus()} CPUs, backend {keras.backend.backend()}, TensorFlow "
        f"{tf.__version__}, Keras "
        f"{keras.__version__}"
    )
    for model, dataset in setups.values():
        timed_epoch(model, dataset, args.steps)  # traces the step function
    seconds = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, (model, dataset) in setups.items():
            seconds[name].append(timed_epoch(model, dataset, args.steps))

    rates = {}
    for name, values in seconds.items():
        rates[name] = pairs / statistics.median(values)
        print(f"  {name:40s} {rates[name]:8.0f} pairs/s (median of {len(values)})")
    ours, plain, memory = rates.values()
    print(f"SiameseModel / plain Keras:            {ours / plain:.2f} (goal >= 1)")
    print(
        f"input pipeline share of step time:     {1 - ours / memory:+.1%} (goal < 10%)"
    )


if __name__ == "__main__":
    main()

"""Data-parallel training speed: steps per second on 1 device against N.

Trains a `SiameseModel` with the batch-hard triplet loss on P x K identity
batches of random images (the recipe's batches), once under
`siamesekit.training.DataParallel(1)` and once over N devices, with the same
global batch, and prints steps/s of each and their ratio. The first epoch
(compilation) is not timed; rounds alternate between the two.

On a CPU, `--cpu-devices N` splits it into N devices before the backend
starts (JAX: `--xla_force_host_platform_device_count`, TensorFlow: logical
CPUs). They share the same cores, so expect a ratio near 1 or below: on CPU
this checks that distribution costs little, not that it speeds up.

    KERAS_BACKEND=jax python benchmarks/bench_distributed.py --cpu-devices 2
    KERAS_BACKEND=tensorflow python benchmarks/bench_distributed.py --cpu-devices 2

`benchmarks/bench_gpu.py --devices N` runs the same measurement on GPUs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-devices", type=int, default=None)
    parser.add_argument("--backbone", default="small_cnn")
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64, help="global batch (P x K)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def split_cpu(count):
    """Gives the backend `count` CPU devices; call before it starts."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" --xla_force_host_platform_device_count={count}"
        )
    elif backend == "tensorflow":
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )


def data_parallel_rates(
    device_counts, *, backbone, size, channels, batch, steps, rounds
):
    """Steps per second of `fit` for each number of devices, same global batch."""
    import keras
    import numpy as np

    import siamesekit
    from siamesekit.losses import BatchHardTripletLoss
    from siamesekit.training import DataParallel

    per_identity = 4
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch * steps, size, size, channels))
    images = images.astype("float32")
    # Each contiguous batch holds batch / 4 identities x 4 images.
    identity_ids = np.tile(
        np.repeat(np.arange(batch // per_identity), per_identity), steps
    )
    models = {}
    for count in device_counts:
        distribution = DataParallel(count)
        with distribution.scope():
            keras.utils.set_random_seed(0)
            tower = siamesekit.EmbeddingTower(
                backbone=backbone,
                input_shape=(size, size, channels),
                weights=None,
            )
            model = siamesekit.SiameseModel(tower)
            model.compile(
                optimizer=keras.optimizers.Adam(1e-4), loss=BatchHardTripletLoss()
            )
            model.fit(images[:batch], identity_ids[:batch], batch_size=batch, verbose=0)
        models[count] = (distribution, model)
    seconds = {count: [] for count in models}
    for _ in range(rounds):
        for count, (distribution, model) in models.items():
            with distribution.scope():
                start = time.perf_counter()
                model.fit(
                    images, identity_ids, batch_size=batch, shuffle=False, verbose=0
                )
                seconds[count].append(time.perf_counter() - start)
    return {
        count: steps / statistics.median(values) for count, values in seconds.items()
    }


def print_rates(rates, title):
    import keras

    first, *_, last = sorted(rates)
    print(f"{title} (Keras {keras.__version__}, backend {keras.backend.backend()}):")
    for count, rate in sorted(rates.items()):
        print(f"  {count} device{'s' if count > 1 else ''}: {rate:7.2f} steps/s")
    print(f"  {last} devices / 1 device: {rates[last] / rates[first]:.2f}x steps/s")


def main():
    args = parse_args()
    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    from siamesekit.training import DataParallel

    available = DataParallel().num_replicas
    if available < 2:
        print(
            f"Only {available} device: nothing to compare "
            "(on a CPU, pass --cpu-devices 2)."
        )
        return
    rates = data_parallel_rates(
        [1, available],
        backbone=args.backbone,
        size=args.size,
        channels=args.channels,
        batch=args.batch,
        steps=args.steps,
        rounds=args.rounds,
    )
    print_rates(
        rates,
        f"SiameseModel.fit, {args.backbone} {args.size}x{args.size}x{args.channels}, "
        f"global batch {args.batch}, batch-hard triplet loss",
    )


if __name__ == "__main__":
    main()

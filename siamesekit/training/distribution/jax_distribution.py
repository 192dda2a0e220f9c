"""The JAX engine: `keras.distribution.DataParallel` over a `DeviceMesh`.

The train step is compiled once for the global batch, sharded along its
batch axis over the mesh; the weights are replicated. XLA partitions the
program (GSPMD) and inserts the all-reduces itself, so the loss, the
in-batch pairs and the BatchNormalization statistics are those of the whole
global batch by construction.
"""

import jax
import keras

from siamesekit.errors import InvalidArgumentError

ENGINE = "keras.distribution.DataParallel (JAX)"
HOW_TO_GET_DEVICES = (
    "on a CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before "
    "JAX starts, or start N processes with initialize_processes."
)


def device_names():
    return list(keras.distribution.list_devices())


def make_distribution(devices):
    if jax.process_count() > 1 and len(devices) != jax.device_count():
        raise InvalidArgumentError(
            "A multi-process run trains on the devices of all processes; leave "
            f"`num_devices` as None. Received: num_devices={len(devices)} of "
            f"{jax.device_count()}"
        )
    mesh = keras.distribution.DeviceMesh(
        shape=(len(devices),), axis_names=["batch"], devices=devices
    )
    return keras.distribution.DataParallel(device_mesh=mesh)


def scope(distribution):
    return distribution.scope()


def initialize_processes(job_addresses, num_processes, process_id):
    # Gloo carries the collectives between CPU processes (the default of
    # recent jaxlibs); a GPU or TPU run uses its own and ignores this.
    if jax.config.jax_cpu_collectives_implementation in (None, "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(job_addresses, num_processes, process_id)


def process_index():
    return jax.process_index()


def process_count():
    return jax.process_count()

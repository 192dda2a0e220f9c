"""Data-parallel training on the engines Keras 3 supports.

One class, `DataParallel`, with one engine per backend chosen once (as the
train steps are):

- **JAX**: `keras.distribution.DataParallel` over a `DeviceMesh` of all
  devices: one program (SPMD) on the global batch, sharded along its batch
  axis; several processes (hosts) join through `initialize_processes`
  (`keras.distribution.initialize`).
- **TensorFlow**: `tf.distribute.MirroredStrategy` over the GPUs of one
  host, or its logical CPUs. `tf.distribute.MultiWorkerMirroredStrategy`
  does not work with Keras 3 (keras-team/keras #20585).
- **PyTorch**: not here; PyTorch trains data-parallel under `torchrun` with
  its own DistributedDataParallel.

What one device would compute, every engine computes: the loss and metrics
are reported as on one device, BatchNormalization uses the statistics of the
global batch, and in-batch losses see every image of the global batch (see
`siamesekit/models/train_steps/`).
"""

from __future__ import annotations

import contextlib

import keras

from siamesekit.errors import DistributionError, InvalidArgumentError


def _engine_for_backend(backend):
    if backend == "jax":
        from siamesekit.training.distribution import jax_distribution

        return jax_distribution
    if backend == "tensorflow":
        from siamesekit.training.distribution import tensorflow_distribution

        return tensorflow_distribution
    return None


_ENGINE = _engine_for_backend(keras.backend.backend())


def _engine():
    if _ENGINE is None:
        raise DistributionError(
            "Data-parallel training runs on the JAX backend "
            "(keras.distribution.DataParallel, one or several processes) and "
            "the TensorFlow backend (tf.distribute.MirroredStrategy, one host); "
            "set KERAS_BACKEND=jax or tensorflow, or run a PyTorch script "
            "under torchrun with torch DDP. Received: "
            f"KERAS_BACKEND={keras.backend.backend()!r}"
        )
    return _ENGINE


class DataParallel:
    """Data-parallel training over several devices, as Keras 3 runs it.

    Build, compile and fit the model inside `scope()`. Each step trains on
    one global batch split across the devices; losses, metrics, gradients,
    BatchNormalization statistics and in-batch losses are those of the
    whole global batch, as on one device (within float32 rounding).

    On JAX this is `keras.distribution.DataParallel` over all devices of all
    processes (call `siamesekit.training.initialize_processes` first on each
    process of a multi-process run); on TensorFlow,
    `tf.distribute.MirroredStrategy` over the GPUs of this host, or its
    logical CPUs when it has none.

    Args:
        num_devices: int, how many of the devices to use (the first ones).
            Defaults to `None`: all of them.

    Raises:
        DistributionError: on the PyTorch backend.
        InvalidArgumentError: if `num_devices` is not a positive integer
            at most the number of devices.

    Example:

    ```python
    distribution = siamesekit.training.DataParallel()
    with distribution.scope():
        tower = siamesekit.EmbeddingTower(
            backbone="small_cnn", input_shape=(32, 32, 1), weights=None
        )
        model = siamesekit.SiameseModel(tower)
        model.compile("adam", loss=siamesekit.losses.BatchHardTripletLoss())
        model.fit(siamesekit.data.identity_batch_dataset(images, labels))
    ```
    """

    def __init__(self, num_devices: int | None = None):
        engine = _engine()
        available = engine.device_names()
        if num_devices is not None and (
            isinstance(num_devices, bool)
            or not isinstance(num_devices, int)
            or not 1 <= num_devices <= len(available)
        ):
            raise InvalidArgumentError(
                f"`num_devices` must be None (all) or an integer from 1 to the "
                f"{len(available)} devices here ({', '.join(available)}); "
                f"{engine.HOW_TO_GET_DEVICES} Received: num_devices={num_devices!r}"
            )
        self.devices = available if num_devices is None else available[:num_devices]
        self._distribution = engine.make_distribution(self.devices)
        self.engine = engine.ENGINE

    @property
    def num_replicas(self) -> int:
        """How many devices share each global batch."""
        return len(self.devices)

    def scope(self) -> contextlib.AbstractContextManager:
        """The context in which to build, compile and fit the model."""
        return _engine().scope(self._distribution)

    def check_batch_size(self, batch_size: int, name: str = "batch_size") -> None:
        """Raises `InvalidArgumentError` unless the devices split the batch evenly."""
        if batch_size % self.num_replicas:
            raise InvalidArgumentError(
                f"A global batch of {batch_size} images ({name}) cannot be split "
                f"evenly over {self.num_replicas} devices; choose a batch size "
                f"that is a multiple of {self.num_replicas}. "
                f"Received: {name}={batch_size}"
            )

    def __repr__(self):
        return f"DataParallel({self.engine} over {', '.join(self.devices)})"


def initialize_processes(
    job_addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Joins this process to a multi-process JAX run (`keras.distribution.initialize`).

    Call it on every process before anything else runs on JAX; then
    `DataParallel()` spans the devices of all processes. Each process reads
    the same data: the global batches are split between the processes by
    Keras (`DataParallel.distribute_dataset`), so every process must produce
    the same batches (same seed). Arguments left `None` are read from
    `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES`
    and `KERAS_DISTRIBUTION_PROCESS_ID`. On CPUs the processes exchange
    gradients through gloo (`jax_cpu_collectives_implementation`).

    Args:
        job_addresses: `"host:port"` of process 0 (the coordinator), or all
            addresses comma-separated.
        num_processes: int, how many processes take part.
        process_id: int, this process, from 0 to `num_processes - 1`.

    Raises:
        DistributionError: on the TensorFlow and PyTorch backends.
    """
    _engine().initialize_processes(job_addresses, num_processes, process_id)


def process_index() -> int:
    """This process's number in a multi-process run; 0 otherwise."""
    return 0 if _ENGINE is None else _ENGINE.process_index()


def process_count() -> int:
    """How many processes train together; 1 unless `initialize_processes` ran."""
    return 1 if _ENGINE is None else _ENGINE.process_count()


__all__ = ["DataParallel", "initialize_processes", "process_count", "process_index"]

"""The TensorFlow engine: `tf.distribute.MirroredStrategy` on one host.

Each replica runs the train step on its slice of the global batch and the
gradients are summed; `siamesekit/models/train_steps/tensorflow_steps.py`
makes the loss, BatchNormalization and in-batch losses those of the global
batch.
"""

import tensorflow as tf

from siamesekit.errors import DistributionError

ENGINE = "tf.distribute.MirroredStrategy (TensorFlow)"
HOW_TO_GET_DEVICES = (
    "on a CPU, split it into N logical devices with "
    "tf.config.set_logical_device_configuration before TensorFlow starts."
)


def device_names():
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices(
        "CPU"
    )
    return [device.name for device in devices]


def make_distribution(devices):
    return tf.distribute.MirroredStrategy(devices=devices)


def scope(strategy):
    return strategy.scope()


def initialize_processes(job_addresses, num_processes, process_id):
    raise DistributionError(
        "Multi-process training runs on the JAX backend only: "
        "tf.distribute.MultiWorkerMirroredStrategy does not work with Keras 3 "
        "(keras-team/keras #20585). Set KERAS_BACKEND=jax, or train on one "
        "TensorFlow host with siamesekit.training.DataParallel(). Received: "
        f"num_processes={num_processes!r}"
    )


def process_index():
    return 0


def process_count():
    return 1

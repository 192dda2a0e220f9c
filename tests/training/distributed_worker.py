"""Runs one data-parallel training case in a fresh process; `test_distribution.py`
starts it.

Devices must be set up before JAX or TensorFlow starts, which a pytest process
that already ran other tests cannot do: JAX gets its devices from `XLA_FLAGS`
(set by the caller), TensorFlow two logical CPUs here, before anything runs.

    python distributed_worker.py single OUT.json BACKUP_DIR
    python distributed_worker.py process OUT.json BACKUP_DIR PROCESS_ID PORT

`single`: 2 devices in one process. One device trains 2 SGD epochs of one
global batch; 2 devices train the same 2 epochs, interrupted after the first
(a backup is written), their weights zeroed and resumed from the backup. The
per-epoch logs, the final weights, and the 2-device model's evaluation and
embeddings of the batch are written to OUT.json for the test to compare.

`process`: one of 2 JAX processes over 127.0.0.1, each with one CPU device,
training 2 epochs of 2 P x K batches (tf.data, split between the processes
by Keras) with a backup, then copying the model to this process alone (as
`train_verification_model` does) and embedding a few images with the copy.
"""

import faulthandler
import json
import os
import sys

# A hang prints every thread's Python stack and ends the process, so the
# test reports where it stopped instead of waiting for its own timeout.
faulthandler.dump_traceback_later(
    float(os.environ.get("WORKER_TIMEOUT", 110)), exit=True
)

CASE, OUT, BACKUP_DIR = sys.argv[1:4]
if CASE == "single" and os.environ.get("KERAS_BACKEND") == "tensorflow":
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

import siamesekit  # noqa: E402
from siamesekit.losses import BatchHardTripletLoss  # noqa: E402
from siamesekit.training import DataParallel, TrainingBackup  # noqa: E402


class Interrupted(Exception):
    """Stands for a kill after the first epoch's backup."""


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise Interrupted()


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append({name: float(value) for name, value in logs.items()})


def _data():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (16, 8, 8, 1)).astype("float32")
    identity_ids = np.repeat(np.arange(4), 4).astype("int32")
    return images, identity_ids


def _model(seed):
    """A tower with BatchNormalization, small enough to compile in a second."""
    keras.utils.set_random_seed(seed)
    tower = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.ReLU(),
            keras.layers.Dense(8),
            keras.layers.UnitNormalization(),
        ]
    )
    model = siamesekit.SiameseModel(tower)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=BatchHardTripletLoss(0.3))
    return model


def _fit(model, epochs, callbacks):
    images, identity_ids = _data()
    recorder = Recorder()
    try:
        model.fit(
            images,
            identity_ids,
            batch_size=16,
            epochs=epochs,
            shuffle=False,
            verbose=0,
            callbacks=[recorder] + callbacks,
        )
    except Interrupted:
        pass
    return recorder.epochs


def _weights(model):
    return [np.asarray(weight).ravel().tolist() for weight in model.get_weights()]


def single():
    one_device = _model(seed=0)
    one_logs = _fit(one_device, 2, [])

    distribution = DataParallel(2)
    with distribution.scope():
        model = _model(seed=0)
        first_logs = _fit(model, 2, [TrainingBackup(BACKUP_DIR), Interrupt()])
        # As if the process had died: only the backup can bring the weights
        # back. (Another fit of the same model reuses its compiled step.)
        model.set_weights([np.zeros_like(weight) for weight in model.get_weights()])
        resumed_logs = _fit(model, 2, [TrainingBackup(BACKUP_DIR)])
        images, identity_ids = _data()
        evaluated = model.evaluate(
            images, identity_ids, batch_size=16, verbose=0, return_dict=True
        )
        embeddings = model.predict(images, batch_size=16, verbose=0)
    return {
        "replicas": distribution.num_replicas,
        "engine": distribution.engine,
        "one_device_logs": one_logs,
        "distributed_logs": first_logs + resumed_logs,
        "one_device_weights": _weights(one_device),
        "distributed_weights": _weights(model),
        "evaluate": {name: float(value) for name, value in evaluated.items()},
        "embeddings": np.asarray(embeddings).tolist(),
    }


def process(process_id, port):
    from siamesekit.data import identity_batch_dataset
    from siamesekit.training.recipe import _one_process_copy

    siamesekit.training.initialize_processes(f"127.0.0.1:{port}", 2, process_id)
    images, identity_ids = _data()
    # The same batches on both processes (same seed); Keras gives each
    # process its half of every global batch of 8.
    batches = identity_batch_dataset(
        images,
        identity_ids,
        identities_per_batch=4,
        images_per_identity=2,
        batches_per_epoch=2,
        seed=0,
    )
    distribution = DataParallel()
    with distribution.scope():
        model = _model(seed=0)
        logs = _fit_batches(model, batches, [TrainingBackup(BACKUP_DIR)])
    local = _one_process_copy(model, images.shape[1:])
    return {
        "replicas": distribution.num_replicas,
        "process_index": siamesekit.training.process_index(),
        "logs": logs,
        "weights": _weights(local),
        "embeddings": np.asarray(local.predict(images[:5], verbose=0)).tolist(),
        "backup": sorted(os.listdir(BACKUP_DIR)),
    }


def _fit_batches(model, batches, callbacks):
    recorder = Recorder()
    model.fit(batches, epochs=2, verbose=0, callbacks=[recorder] + callbacks)
    return recorder.epochs


if __name__ == "__main__":
    if CASE == "single":
        result = single()
    else:
        result = process(int(sys.argv[4]), int(sys.argv[5]))
    with open(OUT, "w") as file:
        json.dump(result, file)

"""Runs one data-parallel training case in a fresh process; `test_distribution.py`
starts it.

Devices must be set up before JAX or TensorFlow starts, which a pytest process
that already ran other tests cannot do: JAX gets its devices from `XLA_FLAGS`
(set by the caller), TensorFlow two logical CPUs here, before anything runs.

    python distributed_worker.py single OUT.json BACKUP_DIR
    python distributed_worker.py process OUT.json BACKUP_DIR PROCESS_ID PORT

`single`: 2 devices in one process. One device trains 2 SGD epochs of one
global batch; 2 devices train the same 2 epochs, interrupted after the first
(a backup is written) and resumed from the backup by a new model. The
initial training-mode embeddings, the per-epoch logs and the final weights
are written to OUT.json for the test to compare.

`process`: one of 2 JAX processes over 127.0.0.1, each with one CPU device,
training with `train_verification_model`; both write their weights.
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
    images = rng.uniform(0, 255, (16, 32, 32, 1)).astype("float32")
    identity_ids = np.repeat(np.arange(4), 4).astype("int32")
    return images, identity_ids


def _model(seed):
    keras.utils.set_random_seed(seed)
    tower = siamesekit.EmbeddingTower(
        backbone="small_cnn",
        input_shape=(32, 32, 1),
        weights=None,
        dense_units=16,
        embedding_dim=8,
        standardize=True,
    )
    model = siamesekit.SiameseModel(tower)
    model.build((None, 32, 32, 1))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=BatchHardTripletLoss(0.3))
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
    images, _ = _data()
    one_device = _model(seed=0)
    initial = keras.ops.convert_to_numpy(one_device.tower(images, training=True))
    one_device = _model(seed=0)
    one_logs = _fit(one_device, 2, [])

    distribution = DataParallel(2)
    with distribution.scope():
        interrupted = _model(seed=0)
        first_logs = _fit(interrupted, 2, [TrainingBackup(BACKUP_DIR), Interrupt()])
        # Other initial weights: only the backup can make it agree.
        resumed = _model(seed=1)
        resumed_logs = _fit(resumed, 2, [TrainingBackup(BACKUP_DIR)])
        images, identity_ids = _data()
        evaluated = resumed.evaluate(
            images, identity_ids, batch_size=16, verbose=0, return_dict=True
        )
    final = keras.ops.convert_to_numpy(resumed.tower(images, training=False))
    return {
        "replicas": distribution.num_replicas,
        "engine": distribution.engine,
        "initial_embeddings": initial.tolist(),
        "one_device_logs": one_logs,
        "distributed_logs": first_logs + resumed_logs,
        "one_device_weights": _weights(one_device),
        "distributed_weights": _weights(resumed),
        "evaluate": {name: float(value) for name, value in evaluated.items()},
        "final_embeddings": final.tolist(),
    }


def process(process_id, port):
    siamesekit.training.initialize_processes(f"127.0.0.1:{port}", 2, process_id)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (32, 32, 32, 1)).astype("float32")
    labels = np.repeat(np.arange(8), 4)
    config = siamesekit.training.TrainingConfig(
        epochs=2,
        identities_per_batch=4,
        images_per_identity=2,
        dense_units=16,
        embedding_dim=8,
        test_time_zooms=None,
        augment=None,
    )
    distribution = DataParallel()
    model, history = siamesekit.training.train_verification_model(
        images,
        labels,
        config=config,
        backup_dir=BACKUP_DIR,
        verbose=0,
        distribution=distribution,
    )
    return {
        "replicas": distribution.num_replicas,
        "process_index": siamesekit.training.process_index(),
        "loss": [float(value) for value in history.history["loss"]],
        "weights": _weights(model),
        "embeddings": keras.ops.convert_to_numpy(model.embed(images[:4])).tolist(),
    }


if __name__ == "__main__":
    if CASE == "single":
        result = single()
    else:
        result = process(int(sys.argv[4]), int(sys.argv[5]))
    with open(OUT, "w") as file:
        json.dump(result, file)

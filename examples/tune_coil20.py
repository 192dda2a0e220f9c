"""Tune a Siamese model on COIL-20 with keras-tuner, then test it on unseen objects.

Objects 1-12 train, 13-16 validate (the tuner's objective: ROC AUC of pairs of
objects no model was trained on), 17-20 are held out for the final test: ROC
AUC over all pairs of their images, with the best model of the search.

    python examples/tune_coil20.py                    # 4 trials x 3 epochs
    python examples/tune_coil20.py --trials 8 --epochs 5
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import siamesekit  # noqa: E402

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared/data/coil20_32px"
TRAIN_OBJECTS = range(1, 13)
VALIDATION_OBJECTS = range(13, 17)
TEST_OBJECTS = range(17, 21)


def load_coil20(directory):
    """Returns grey 32x32x1 images (0-255 float32) and object numbers."""
    images, labels = [], []
    for path in sorted(pathlib.Path(directory).glob("obj*__*.png")):
        match = re.fullmatch(r"obj(\d+)__\d+\.png", path.name)
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if match is None or image is None:
            raise SystemExit(f"Cannot read {path} as a COIL-20 image.")
        images.append(image)
        labels.append(int(match.group(1)))
    if not images:
        raise SystemExit(f"No COIL-20 images (objK__P.png) found in {directory}.")
    return np.stack(images)[..., None].astype("float32"), np.asarray(labels)


def select(images, labels, objects):
    keep = np.isin(labels, list(objects))
    return images[keep], labels[keep]


def balanced_pairs(images, labels, count, rng):
    """`count` random pairs, half of one object (label 1), half of two (label 0)."""
    by_object = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
    objects = list(by_object)
    first, second, targets = [], [], []
    for index in range(count):
        if index % 2 == 0:
            members = by_object[rng.choice(objects)]
            a, b = rng.choice(members, 2, replace=False)
        else:
            object_a, object_b = rng.choice(objects, 2, replace=False)
            a, b = rng.choice(by_object[object_a]), rng.choice(by_object[object_b])
        first.append(a)
        second.append(b)
        targets.append(float(index % 2 == 0))
    return (images[first], images[second]), np.asarray(targets, "float32")


def all_pairs_auc(model, images, labels):
    """ROC AUC of -distance over every pair of `images`."""
    embeddings = np.concatenate(
        [
            keras.ops.convert_to_numpy(model.embed(images[start : start + 256]))
            for start in range(0, len(images), 256)
        ]
    )
    first, second = np.triu_indices(len(images), k=1)
    distances = np.linalg.norm(embeddings[first] - embeddings[second], axis=1)
    same = labels[first] == labels[second]
    return roc_auc_score(same, -distances), len(first)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--directory", default=None, help="keras-tuner folder")
    # keras-tuner treats seed=0 as "no seed", so the default is 1.
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    images, labels = load_coil20(args.data)
    rng = np.random.default_rng(args.seed)
    train_x, train_y = balanced_pairs(*select(images, labels, TRAIN_OBJECTS), 6000, rng)
    validation_data = balanced_pairs(
        *select(images, labels, VALIDATION_OBJECTS), 2000, rng
    )

    hypermodel = siamesekit.SiameseHyperModel(
        (32, 32, 1),
        backbone="small_cnn",
        weights=None,
        search_space={
            "embedding_dim": [16, 32, 64],
            "dense_units": [64, 128],
            "batch_size": [32, 64],
            "pairs_per_epoch": 3072,
        },
    )
    directory = args.directory or tempfile.mkdtemp(prefix="siamesekit-tuning-")
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=siamesekit.tuning.objective("val_auc"),
        max_trials=args.trials,
        seed=args.seed,
        directory=directory,
        project_name="coil20",
    )
    start = time.perf_counter()
    tuner.search(
        train_x,
        train_y,
        validation_data=validation_data,
        epochs=args.epochs,
        verbose=2,
    )
    search_seconds = time.perf_counter() - start

    best_trial = tuner.oracle.get_best_trials(1)[0]
    best_model = tuner.get_best_models(1)[0]
    test_images, test_labels = select(images, labels, TEST_OBJECTS)
    test_auc, test_pairs = all_pairs_auc(best_model, test_images, test_labels)
    print(
        f"\nSearch: {args.trials} trials x {args.epochs} epochs "
        f"in {search_seconds:.0f} s"
    )
    print("Best hyperparameters:")
    for name, value in best_trial.hyperparameters.values.items():
        print(f"  {name} = {value}")
    print(f"Validation ROC AUC (objects 13-16, tuner): {best_trial.score:.4f}")
    print(
        f"Test ROC AUC (objects 17-20, all {test_pairs} pairs, unseen): {test_auc:.4f}"
    )


if __name__ == "__main__":
    main()

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
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
from coil20_data import DEFAULT_DATA, load_coil20  # noqa: E402

import siamesekit  # noqa: E402
from siamesekit.data import pair_dataset  # noqa: E402
from siamesekit.evaluation import evaluate_verification  # noqa: E402

TRAIN_OBJECTS = range(1, 13)
VALIDATION_OBJECTS = range(13, 17)
TEST_OBJECTS = range(17, 21)


def select(images, labels, objects):
    keep = np.isin(labels, list(objects))
    return images[keep], labels[keep]


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
    train_images, train_labels = select(images, labels, TRAIN_OBJECTS)

    def train_pairs(batch_size):
        # Balanced pairs, redrawn every epoch; the tuner picks the batch size
        # and, through `pairs_per_epoch`, the steps per epoch.
        return pair_dataset(
            train_images, train_labels, batch_size=batch_size, seed=args.seed
        ).repeat()

    # The same 2,048 validation pairs in every epoch and trial.
    validation_pairs = pair_dataset(
        *select(images, labels, VALIDATION_OBJECTS),
        batch_size=256,
        pairs_per_epoch=2048,
        seed=args.seed + 1,
    ).cache()

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
        train_pairs,
        validation_data=validation_pairs,
        epochs=args.epochs,
        verbose=2,
    )
    search_seconds = time.perf_counter() - start

    best_trial = tuner.oracle.get_best_trials(1)[0]
    best_model = tuner.get_best_models(1)[0]
    test = evaluate_verification(best_model, *select(images, labels, TEST_OBJECTS))
    print(
        f"\nSearch: {args.trials} trials x {args.epochs} epochs "
        f"in {search_seconds:.0f} s"
    )
    print("Best hyperparameters:")
    for name, value in best_trial.hyperparameters.values.items():
        print(f"  {name} = {value}")
    print(f"Validation ROC AUC (objects 13-16, tuner): {best_trial.score:.4f}")
    print(f"Test (objects 17-20, all pairs, unseen): {test.summary()}")


if __name__ == "__main__":
    main()

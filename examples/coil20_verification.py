"""Object verification on COIL-20: train on objects 1-14, test on 15-20.

The images (flat files `objK__P.png`) are loaded by `coil20_data.py` beside
this script. Training uses `siamesekit.training.train_verification_model`;
ROC AUC and equal error rate are measured on all pairs of the objects never
seen in training, and the plots are written to --out.

Usage:
    python examples/coil20_verification.py [--data ../shared/data/coil20_32px]
        [--epochs 30] [--out DIR] [--overwrite]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from coil20_data import DEFAULT_DATA, load_coil20  # noqa: E402
from output_folder import output_folder  # noqa: E402

from siamesekit.evaluation import (  # noqa: E402
    evaluate_verification,
    save_verification_plots,
)
from siamesekit.training.recipe import (  # noqa: E402
    TrainingConfig,
    train_verification_model,
)

# What a run writes into its results folder.
OWN_FILES = ("coil20_model.keras", "roc.png", "distances.png", "pairs.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        help="results folder (default: coil20_output, or coil20_output_2, ... "
        "when it holds an earlier run's results)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace earlier results in --out"
    )
    args = parser.parse_args()
    try:
        out = output_folder(args.out, "coil20_output", OWN_FILES, args.overwrite)
    except FileExistsError as error:
        parser.error(str(error))
    model_path = os.path.join(out, "coil20_model.keras")

    images, objects = load_coil20(args.data)
    train, test = objects <= 14, objects > 14
    print(
        f"{len(images)} images of {len(set(objects))} objects; training on "
        f"objects 1-14 ({train.sum()} images), testing on 15-20 ({test.sum()})."
    )
    config = dataclasses.replace(TrainingConfig(), epochs=args.epochs, seed=args.seed)
    started = time.perf_counter()
    model, _ = train_verification_model(
        images[train], objects[train], config=config, verbose=2
    )
    seconds = time.perf_counter() - started

    result = evaluate_verification(model, images[test], objects[test])
    model.threshold = result.threshold
    cpus = len(os.sched_getaffinity(0))
    print(f"Trained {args.epochs} epochs in {seconds:.0f} s on {cpus} CPUs")
    print(f"Objects 15-20: {result.summary()}")

    os.makedirs(out, exist_ok=True)
    written = save_verification_plots(result, images[test], out)
    model.save(model_path)
    print("Wrote " + ", ".join(written + [model_path]))


if __name__ == "__main__":
    main()

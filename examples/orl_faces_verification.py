"""Face verification on ORL faces: train on people 1-30, test on people 31-40.

Aligns the faces first (`siamesekit.data.align_faces`: MTCNN landmarks,
eyes, nose and mouth moved onto one template), then trains a Siamese tower
with `siamesekit.training.train_verification_model`
(P x K batches, batch-hard triplet loss, standardized and L2-normalized
embeddings, augmentation, cosine schedule; at inference the tower averages
zoomed and mirrored views of each image and whitens the embedding with the
statistics of the training faces). It measures ROC AUC and equal
error rate on all pairs of the 100 images of the ten people it never saw,
and writes the plots and the model.

Usage:
    python examples/orl_faces_verification.py [--data ../shared/data/orl_faces]
        [--epochs 90] [--seed 0] [--out DIR] [--overwrite] [--no-align]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from output_folder import output_folder  # noqa: E402

from siamesekit.data import align_faces, load_image_folder  # noqa: E402
from siamesekit.evaluation import (  # noqa: E402
    evaluate_verification,
    save_verification_plots,
)
from siamesekit.training.recipe import (  # noqa: E402
    TrainingConfig,
    train_verification_model,
)

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared/data/orl_faces"
ORIGINAL_SIZE = (112, 92)

# Half the original 112x92 in each direction, and a little more: small
# images train fast and generalize better to new people here.
IMAGE_SIZE = (32, 28)


# What a run writes into its results folder.
OWN_FILES = ("orl_model.keras", "roc.png", "distances.png", "pairs.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=TrainingConfig().epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        help="results folder (default: orl_output, or orl_output_2, ... "
        "when it holds an earlier run's results)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace earlier results in --out"
    )
    parser.add_argument(
        "--no-align", action="store_true", help="train on the faces as photographed"
    )
    args = parser.parse_args()
    try:
        out = output_folder(args.out, "orl_output", OWN_FILES, args.overwrite)
    except FileExistsError as error:
        parser.error(str(error))
    model_path = os.path.join(out, "orl_model.keras")

    if args.no_align:
        faces = load_image_folder(args.data, size=IMAGE_SIZE, channels=1)
        images = faces.images
    else:
        # Align at the original size, then shrink.
        faces = load_image_folder(args.data, size=ORIGINAL_SIZE, channels=1)
        started = time.perf_counter()
        aligned = align_faces(faces.images, size=IMAGE_SIZE)
        images = aligned.images
        print(
            f"Aligned {len(images) - len(aligned.missing)} faces in "
            f"{time.perf_counter() - started:.0f} s; no face found in "
            f"{[faces.paths[i] for i in aligned.missing]} (kept as they are)."
        )
    person = np.array([int(label.lstrip("s")) for label in faces.labels])
    train, test = person <= 30, person > 30
    print(
        f"{len(images)} faces of {len(set(person))} people; training on "
        f"people 1-30 ({train.sum()} images), testing on 31-40 ({test.sum()})."
    )

    config = dataclasses.replace(TrainingConfig(), epochs=args.epochs, seed=args.seed)
    started = time.perf_counter()
    model, _ = train_verification_model(
        images[train], person[train], config=config, verbose=2
    )
    seconds = time.perf_counter() - started

    result = evaluate_verification(model, images[test], person[test])
    model.threshold = result.threshold
    cpus = len(os.sched_getaffinity(0))
    print(f"Trained {args.epochs} epochs in {seconds:.0f} s on {cpus} CPUs")
    print(f"People 31-40: {result.summary()}")

    os.makedirs(out, exist_ok=True)
    written = save_verification_plots(result, images[test], out)
    model.save(model_path)
    print("Wrote " + ", ".join(written + [model_path]))


if __name__ == "__main__":
    main()

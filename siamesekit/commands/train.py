"""`siamesekit train DATA_DIR --out model.keras`: train a verification model."""

from __future__ import annotations

import argparse
import os
import sys
import time

from siamesekit.commands.arguments import fraction, image_side, positive_int
from siamesekit.errors import DatasetError, InvalidArgumentError

_DESCRIPTION = """\
Train a Siamese verification model on a folder with one subfolder of images
per identity (person, object, ...). Some identities are held out for
validation: the model never trains on them, they give the ROC AUC and equal
error rate printed at the end and the decision threshold stored in the model.
With --duplicates DIR instead, a model for near-duplicates is trained on the
unlabelled images of DIR and its subfolders: each image is its own identity
and copy-like views of it (crop, rescale, JPEG, colour, rotation, overlay)
are the similar pairs.
An interrupted run (Ctrl-C, killed process) resumes from its last finished
epoch when the same command is run again (the backup lives in
OUT.backup/ until the model is saved). --distribute trains on all devices
(JAX or TensorFlow) as on one. An existing --out file is never
replaced without --overwrite. Progress is a Keras progress bar on a terminal,
one line per epoch otherwise (a log file), and nothing with --quiet."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a verification model on a folder of identity subfolders",
        description=_DESCRIPTION,
    )
    parser.add_argument(
        "data_dir", nargs="?", help="folder with one subfolder per identity"
    )
    parser.add_argument(
        "--duplicates",
        metavar="DIR",
        help="train a near-duplicates model on the unlabelled images in DIR",
    )
    parser.add_argument("--out", required=True, help="model file to write (.keras)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists"
    )
    parser.add_argument(
        "--size",
        type=image_side,
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        help="images are resized to this size (default: 56 46; 64 64 with "
        "--duplicates)",
    )
    parser.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        help="1 for grey, 3 for RGB (default: 1; 3 with --duplicates)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help="passes over the images (default: 90; 40 with --duplicates)",
    )
    parser.add_argument(
        "--validation",
        type=fraction,
        default=0.2,
        help="fraction of identities held out for validation (default: 0.2)",
    )
    parser.add_argument(
        "--no-flip",
        action="store_true",
        help="no left-right flips in augmentation (for text, digits, ...)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--backup-dir",
        help="folder for the resumable backup (default: OUT.backup next to --out)",
    )
    parser.add_argument(
        "--distribute",
        action="store_true",
        help="train data-parallel on all devices: JAX keras.distribution."
        "DataParallel (several processes: set KERAS_DISTRIBUTION_JOB_ADDRESSES, "
        "_NUM_PROCESSES, _PROCESS_ID on each), TensorFlow MirroredStrategy (one "
        "host); not PyTorch (use torchrun)",
    )
    add_quiet_argument(parser)
    parser.set_defaults(run=run)
    return parser


def _data_parallel(distribute: bool):
    """The `DataParallel` of `--distribute`, or `None`; joins other processes."""
    if not distribute:
        return None
    from siamesekit.training import distribution

    if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1") != "1":
        distribution.initialize_processes()
    return distribution.DataParallel()


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output; print only the results",
    )


def fit_verbosity(quiet: bool) -> int:
    """Keras `fit` verbosity: a progress bar on a terminal, one line per epoch
    when stdout is a file or a pipe (progress bars write thousands of escape
    codes into logs), nothing when quiet."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def _say(quiet: bool):
    return (lambda *values: None) if quiet else print


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from siamesekit.commands.model_files import check_output_path, save_model_file
    from siamesekit.data.image_folder import load_image_folder
    from siamesekit.data.splits import split_by_identity
    from siamesekit.evaluation.metrics import evaluate_verification
    from siamesekit.training.callbacks import check_backup_dir, remove_backup
    from siamesekit.training.distribution import process_index
    from siamesekit.training.recipe import TrainingConfig, train_verification_model

    if (args.data_dir is None) == (args.duplicates is None):
        raise InvalidArgumentError(
            "Pass either a folder with one subfolder per identity, or "
            "--duplicates DIR; not both, not neither."
        )
    if args.duplicates is not None:
        if args.distribute:
            raise InvalidArgumentError(
                "--distribute applies to training on identities; --duplicates "
                "trains on one device."
            )
        from siamesekit.commands.train_duplicates import run_duplicates

        return run_duplicates(args)
    distribution = _data_parallel(args.distribute)
    out = check_output_path(args.out, overwrite=args.overwrite)
    backup_dir = check_backup_dir(args.backup_dir or out + ".backup")
    started = time.perf_counter()
    folder = load_image_folder(
        args.data_dir, size=tuple(args.size or (56, 46)), channels=args.channels or 1
    )
    say = _say(args.quiet)
    say(
        f"Read {len(folder.images)} images of {len(set(folder.labels))} identities "
        f"from {args.data_dir}"
        + (
            f" ({len(folder.skipped)} unreadable files skipped)"
            if folder.skipped
            else ""
        )
    )
    split = split_by_identity(folder.labels, test=0, validation=args.validation)
    if len(split.validation) == 0:
        raise DatasetError(
            f"--validation {args.validation} holds out no identity; use a larger "
            "fraction so that the threshold and the reported scores come from "
            "identities the model did not train on."
        )
    train_images, train_labels = folder.images[split.train], folder.labels[split.train]
    valid_images = folder.images[split.validation]
    valid_labels = folder.labels[split.validation]
    say(
        f"Training on {len(set(train_labels))} identities, validating on "
        f"{len(set(valid_labels))} others."
    )
    recipe = TrainingConfig()
    config = dataclasses.replace(
        recipe,
        epochs=args.epochs or recipe.epochs,
        augment=dataclasses.replace(recipe.augment, flip=not args.no_flip),
        seed=args.seed,
    )
    if os.path.isdir(backup_dir):
        print(f"Resuming from the backup in {backup_dir}")
    model, _ = train_verification_model(
        train_images,
        train_labels,
        config=config,
        validation=(valid_images, valid_labels),
        backup_dir=backup_dir,
        keep_backup=True,
        verbose=fit_verbosity(args.quiet),
        distribution=distribution,
    )
    # Without test-time flips: the stored threshold must match what
    # SiameseModel and Comparator compute on a single image pair.
    result = evaluate_verification(model, valid_images, valid_labels)
    model.threshold = result.threshold
    # Every process of a multi-process run holds the same model; one writes.
    if distribution is None or process_index() == 0:
        save_model_file(model, out, overwrite=args.overwrite)
        remove_backup(backup_dir)
    minutes = (time.perf_counter() - started) / 60
    print(f"Validation identities: {result.summary()}")
    print(f"Saved {out} (threshold {result.threshold:.4f}) after {minutes:.1f} min")
    return 0

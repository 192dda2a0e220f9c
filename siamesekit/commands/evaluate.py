"""`siamesekit evaluate model.keras DATA_DIR`: verification scores on a folder."""

from __future__ import annotations

import argparse
import os

from siamesekit.commands.arguments import positive_int

_DESCRIPTION = """\
Measure a saved Siamese model on a folder with one subfolder of images per
identity: all pairs of its images (or a uniform sample of --max-pairs), ROC
AUC, equal error rate, and the distance threshold with the best accuracy.
Use identities the model never saw in training. With --plots DIR, writes the
ROC curve, distance histograms and the hardest pairs as PNG files. The model
file is only read; --save-threshold writes the measured threshold into it."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="ROC AUC, EER and threshold of a saved model on a folder",
        description=_DESCRIPTION,
    )
    parser.add_argument("model", help="a .keras file saved from a SiameseModel")
    parser.add_argument("data_dir", help="folder with one subfolder per identity")
    parser.add_argument(
        "--max-pairs",
        type=positive_int,
        default=500_000,
        help="sample this many pairs when there are more (default: 500000)",
    )
    parser.add_argument(
        "--flip",
        action="store_true",
        help="average each embedding with that of the mirrored image",
    )
    parser.add_argument("--plots", metavar="DIR", help="write PNG plots into DIR")
    parser.add_argument(
        "--save-threshold",
        action="store_true",
        help="store the best-accuracy threshold in the model file",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from siamesekit.commands.model_files import check_model_file, save_model_file
    from siamesekit.data.image_folder import load_image_folder
    from siamesekit.errors import DatasetError, ModelFileError
    from siamesekit.evaluation.metrics import evaluate_verification
    from siamesekit.evaluation.plots import save_verification_plots
    from siamesekit.models.model_file import load_model_file

    check_model_file(args.model, "model")
    if not os.path.isdir(args.data_dir):
        # Before the model loads: loading it can print Keras warnings.
        raise DatasetError(
            f"The image folder {args.data_dir!r} does not exist or is not a "
            "directory. Pass a folder with one subfolder of images per identity."
        )
    if args.plots and os.path.exists(args.plots) and not os.path.isdir(args.plots):
        raise ModelFileError(
            f"--plots {args.plots!r} is a file; pass a folder for the PNG plots."
        )
    model = load_model_file(args.model)
    tower = getattr(model, "tower", None)
    image_shape = getattr(tower, "image_shape", None)
    if image_shape is None:
        raise ModelFileError(
            f"{args.model} does not hold a siamesekit.SiameseModel with an "
            "EmbeddingTower; evaluate other models from Python with "
            "siamesekit.evaluation.evaluate_verification."
        )
    height, width, channels = image_shape
    folder = load_image_folder(args.data_dir, size=(height, width), channels=channels)
    print(
        f"Read {len(folder.images)} images of {len(set(folder.labels))} identities "
        f"from {args.data_dir}"
        + (
            f" ({len(folder.skipped)} unreadable files skipped)"
            if folder.skipped
            else ""
        )
    )
    result = evaluate_verification(
        model, folder.images, folder.labels, max_pairs=args.max_pairs, flip=args.flip
    )
    print(result.summary())
    stored = getattr(model, "threshold", None)
    if stored is not None:
        print(f"Threshold stored in the model: {stored:.4f}")
    if args.plots:
        for path in save_verification_plots(result, folder.images, args.plots):
            print(f"Wrote {path}")
    if args.save_threshold:
        model.threshold = result.threshold
        save_model_file(model, args.model, overwrite=True)
        print(f"Stored threshold {result.threshold:.4f} in {args.model}")
    return 0

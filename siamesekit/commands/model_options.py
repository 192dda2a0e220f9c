"""The options that choose a model, shared by the commands that embed images.

`--model m.keras`, or a tower built from `--backbone`, `--weights` and
`--input-size` (an untrained embedding head on a backbone: only relative
scores mean something).
"""

from __future__ import annotations

import argparse

from siamesekit.commands.arguments import image_side
from siamesekit.commands.choices import PRECISIONS
from siamesekit.errors import InvalidArgumentError


def add_model_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="a .keras file saved from a SiameseModel")
    source.add_argument(
        "--backbone",
        help="build a tower on this backbone instead of --model (default: vgg16)",
    )
    parser.add_argument(
        "--weights",
        default="imagenet",
        help="backbone weights with --backbone: imagenet, none, or a file path "
        "(default: imagenet)",
    )
    parser.add_argument(
        "--input-size",
        type=image_side,
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        default=(224, 224),
        help="tower input size with --backbone (default: 224 224)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="numeric precision of the network (default: auto)",
    )


def model_source(args) -> dict:
    """What the options name, as plain data (an index file records it)."""
    if args.model is not None:
        if args.weights != "imagenet":
            raise InvalidArgumentError(
                "--weights applies to --backbone; a --model file holds its own weights."
            )
        return {"model": args.model}
    return {
        "backbone": args.backbone or "vgg16",
        "weights": None if args.weights.lower() == "none" else args.weights,
        "input_size": list(args.input_size),
    }


def _check_embedding_output(comparator, model_path: str) -> None:
    """Fails unless the model maps an image to one embedding vector."""
    try:
        shape = comparator.tower.compute_output_shape(
            (1,) + tuple(comparator.image_shape)
        )
    except (NotImplementedError, ValueError, TypeError):
        return  # a layer that cannot tell; let the comparison try
    if len(shape) != 2:
        raise InvalidArgumentError(
            f"--model {model_path!r} maps an image to an output of shape "
            f"{tuple(shape)[1:]}, not to an embedding vector; pass a model saved "
            "from a siamesekit.SiameseModel or an embedding tower."
        )


def build_from_source(source: dict, precision: str = "auto"):
    """A `siamesekit.Comparator` for a `model_source` dict."""
    from siamesekit.commands.model_files import check_model_file
    from siamesekit.compare import build_comparator

    if "model" in source:
        check_model_file(source["model"])
        comparator = build_comparator(source["model"], precision=precision)
        _check_embedding_output(comparator, source["model"])
        return comparator
    height, width = source["input_size"]
    if source["weights"] is None:
        # Random weights from a fixed seed: the same options give the same
        # tower in every run, so an index built with them can be searched.
        import keras

        keras.utils.set_random_seed(0)
    return build_comparator(
        backbone=source["backbone"],
        weights=source["weights"],
        input_shape=(height, width, 3),
        precision=precision,
    )

"""`siamesekit compare IMG1 IMG2`: scores and a difference figure for two images."""

from __future__ import annotations

import argparse
import os

from siamesekit.commands.checks import (
    check_figure_path,
    check_image_file,
    strict_json,
)
from siamesekit.commands.choices import METHODS
from siamesekit.commands.model_options import (
    add_model_options,
    build_from_source,
    model_source,
)
from siamesekit.errors import InvalidArgumentError

_DESCRIPTION = """\
Compare two images with a Siamese model: prints the cosine similarity and
the Euclidean distance of their embeddings, and with --out writes a figure of
both images and the difference heatmap. Without --model, an EmbeddingTower is
built from --backbone and --weights (its embedding head is untrained, so only
the heatmap and relative scores are meaningful)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="compare two images: similarity, distance and a heatmap figure",
        description=_DESCRIPTION,
    )
    parser.add_argument("image1", help="path of image 1")
    parser.add_argument("image2", help="path of image 2")
    add_model_options(parser)
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="features",
        help="heatmap method (default: features)",
    )
    parser.add_argument(
        "--out",
        help="write the figure here (format from the extension; an existing "
        "figure is replaced)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)
    return parser


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def run(args) -> int:
    source = model_source(args)
    if args.out is not None:
        for image in (args.image1, args.image2):
            if _same_file(args.out, image):
                raise InvalidArgumentError(
                    f"--out {args.out!r} is one of the input images; choose "
                    "another file name."
                )
        check_figure_path(args.out)
    check_image_file(args.image1, "image 1")
    check_image_file(args.image2, "image 2")
    comparator = build_from_source(source, args.precision)
    result = comparator.compare(args.image1, args.image2, method=args.method)
    figure = result.save_figure(args.out) if args.out is not None else None
    if args.json:
        print(
            strict_json(
                {
                    "image1": args.image1,
                    "image2": args.image2,
                    "similarity": result.similarity,
                    "distance": result.distance,
                    "same": result.same,
                    "method": result.method,
                    "regions": [region._asdict() for region in result.regions],
                    "precision": comparator.precision,
                    "figure": figure,
                }
            )
        )
    else:
        print(f"similarity: {result.similarity:.6f}")
        print(f"distance:   {result.distance:.6f}")
        if result.same is not None:
            print(f"same:       {'yes' if result.same else 'no'}")
        for number, region in enumerate(result.regions, start=1):
            print(
                f"region {number}:   x={region.x} y={region.y} "
                f"width={region.width} height={region.height} "
                f"score={region.score:.4g}"
            )
        if figure is not None:
            print(f"figure:     {figure}")
    return 0

"""`siamesekit duplicates DIR`: groups of exact and near-duplicate images."""

from __future__ import annotations

import argparse
import os

from siamesekit.commands.arguments import cosine
from siamesekit.commands.checks import check_output_file, strict_json
from siamesekit.commands.choices import DEFAULT_MIN_SIMILARITY
from siamesekit.commands.model_options import (
    add_model_options,
    build_from_source,
    model_source,
)
from siamesekit.errors import InvalidArgumentError

_DESCRIPTION = """\
Find groups of duplicate images under a folder (subfolders included):
byte-identical copies, then near-duplicates (re-encoded, resized, cropped,
recoloured ...) whose embeddings are at least --min-similarity similar to
their group's first image. With --verify, each such pair is kept only if
its pixels line up once aligned by keypoints (a crop, a rescale, a small
turn), so a looser --min-similarity finds more copies. Nothing is deleted
or moved; --report writes an HTML page with thumbnails and a difference
heatmap per group to decide from."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "duplicates",
        help="find exact and near-duplicate images in a folder",
        description=_DESCRIPTION,
    )
    parser.add_argument("folder", help="folder of images")
    add_model_options(parser)
    parser.add_argument(
        "--min-similarity",
        type=cosine,
        default=DEFAULT_MIN_SIMILARITY,
        help="least cosine similarity of a copy to its group's first image, "
        f"in [-1, 1] (default: {DEFAULT_MIN_SIMILARITY})",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="confirm each proposed pair by aligning its pixels "
        "(siamesekit.search.GeometricCheck); slower, and lets a looser "
        "--min-similarity find crops and rotations",
    )
    parser.add_argument(
        "--verify-below",
        type=cosine,
        default=None,
        help="with --verify: keep pairs at least this similar without the "
        "check, where the embeddings alone are sure (in [-1, 1])",
    )
    parser.add_argument("--report", help="write an HTML report here")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --report"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from siamesekit.search import find_duplicates
    from siamesekit.search.report import write_duplicates_report

    if args.report is not None:
        check_output_file(
            args.report,
            "--report",
            "duplicates.html",
            may_exist=args.overwrite,
            how_to_replace="pass --overwrite to replace it, or choose another "
            "file name",
        )
    if not os.path.isdir(args.folder):
        raise InvalidArgumentError(
            f"{args.folder!r} does not exist or is not a folder."
        )
    comparator = build_from_source(model_source(args), args.precision)
    report = find_duplicates(
        args.folder,
        comparator,
        min_similarity=args.min_similarity,
        verify=args.verify,
        verify_below=args.verify_below,
    )
    written = None
    if args.report is not None:
        written = write_duplicates_report(
            report, args.report, comparator, overwrite=True
        )
    if args.json:
        print(strict_json(dict(report.as_dict(), report=written)))
        return 0
    checked = ", each pair verified" if report.verify is not None else ""
    print(
        f"{len(report.groups)} groups, {report.num_duplicates} copies among "
        f"{report.num_images} images (min similarity "
        f"{report.min_similarity:g}{checked})"
    )
    for number, group in enumerate(report.groups, start=1):
        print(f"group {number}: {group.representative}")
        for image_id, similarity, exact in zip(
            group.ids[1:], group.similarities[1:], group.exact[1:]
        ):
            kind = "exact copy" if exact else f"{similarity:.4f}"
            print(f"  {kind}  {image_id}")
    for image_id, reason in report.skipped:
        print(f"skipped {image_id}: {reason}")
    if written is not None:
        print(f"report: {written}")
    return 0

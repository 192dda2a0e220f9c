"""`siamesekit index DIR --out gallery.index`: embed a folder for searching."""

from __future__ import annotations

import argparse
import os

from siamesekit.commands.checks import check_output_file, strict_json
from siamesekit.commands.choices import INDEX_KINDS
from siamesekit.commands.model_options import (
    add_model_options,
    build_from_source,
    model_source,
)
from siamesekit.errors import InvalidArgumentError

_DESCRIPTION = """\
Embed every image under a folder (subfolders included) and save a search
index. Unreadable files are skipped and listed. With --update, an existing
index of the folder is brought up to date: only new and changed files are
embedded, and files no longer in the folder are dropped from the index."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "index",
        help="embed a folder of images into a search index file",
        description=_DESCRIPTION,
    )
    parser.add_argument("folder", help="folder of images")
    parser.add_argument("--out", required=True, help="the index file to write")
    add_model_options(parser)
    parser.add_argument(
        "--kind",
        choices=INDEX_KINDS,
        default="flat",
        help="flat (exact, the default), ivf or hnsw (approximate, for "
        "large galleries)",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--update", action="store_true", help="update an existing --out index"
    )
    existing.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out file"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from siamesekit.data.image_folder import list_image_files
    from siamesekit.search import Index

    check_output_file(
        args.out,
        "--out",
        "gallery.index",
        may_exist=args.update or args.overwrite,
        how_to_replace="pass --update to add new and changed images to it, or "
        "--overwrite to replace it",
    )
    paths = list_image_files(args.folder)
    source = model_source(args)
    if "model" in source:
        # Recorded in the index, so `siamesekit search` finds the model from
        # any folder.
        source["model"] = os.path.abspath(source["model"])
    comparator = build_from_source(source, args.precision)
    if args.update and os.path.exists(args.out):
        index = Index.load(args.out, comparator)
        gone = [image_id for image_id in index.ids if image_id not in set(paths)]
        index.remove(gone)
    else:
        index = Index(comparator, kind=args.kind)
        gone = []
    index.model_source = source
    result = index.add(paths)
    if not len(index):
        raise InvalidArgumentError(
            f"None of the {len(paths)} images in {args.folder!r} could be read, "
            f"for example {result.skipped[0][0]!r}: {result.skipped[0][1]}"
        )
    index.save(args.out, overwrite=True)
    summary = {
        "index": args.out,
        "images": len(index),
        "added": len(result.added),
        "updated": len(result.updated),
        "unchanged": len(result.unchanged),
        "removed": len(gone),
        "skipped": [{"id": i, "reason": r} for i, r in result.skipped],
    }
    if args.json:
        print(strict_json(summary))
        return 0
    print(
        f"{args.out}: {len(index)} images ({len(result.added)} added, "
        f"{len(result.updated)} updated, {len(result.unchanged)} unchanged, "
        f"{len(gone)} removed)"
    )
    for image_id, reason in result.skipped:
        print(f"skipped {image_id}: {reason}")
    return 0

"""`siamesekit search gallery.index QUERY...`: the most similar gallery images."""

from __future__ import annotations

import argparse

from siamesekit.commands.arguments import positive_int
from siamesekit.commands.checks import check_image_file, strict_json
from siamesekit.commands.choices import PRECISIONS
from siamesekit.errors import InvalidArgumentError

_DESCRIPTION = """\
Search an index made by `siamesekit index` for the images most similar to
each query. The queries are embedded with the model the index was built
with (found from the index, or --model), and a query from any other model is
refused."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "search",
        help="find the gallery images most similar to query images",
        description=_DESCRIPTION,
    )
    parser.add_argument("index", help="an index file made by `siamesekit index`")
    parser.add_argument("queries", nargs="+", help="query image paths")
    parser.add_argument(
        "-k", type=positive_int, default=5, help="results per query (default: 5)"
    )
    parser.add_argument(
        "--model",
        help="the .keras model the index was built with, if it has moved",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="numeric precision of the network (default: auto)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from siamesekit.commands.model_options import build_from_source
    from siamesekit.search import Index

    for number, query in enumerate(args.queries, start=1):
        check_image_file(query, f"query {number}")
    index = Index.load(args.index)
    source = {"model": args.model} if args.model else index.model_source
    if not source:
        raise InvalidArgumentError(
            f"{args.index!r} does not say which model built it; pass --model."
        )
    index.attach(build_from_source(source, args.precision))
    result = index.search(args.queries, k=args.k)
    if args.json:
        print(
            strict_json(
                [
                    {
                        "query": query,
                        "results": [
                            {"id": image_id, "similarity": float(similarity)}
                            for image_id, similarity in zip(ids, similarities)
                        ],
                    }
                    for query, ids, similarities in zip(
                        args.queries, result.ids, result.similarities
                    )
                ]
            )
        )
        return 0
    for query, ids, similarities in zip(args.queries, result.ids, result.similarities):
        print(f"{query}:")
        for rank, (image_id, similarity) in enumerate(zip(ids, similarities), 1):
            print(f"  {rank}. {similarity:.4f}  {image_id}")
    return 0

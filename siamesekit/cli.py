"""The `siamesekit` command line: `siamesekit COMMAND ...`.

Each command lives in its own module under `siamesekit/commands/` and
provides `add_parser(subparsers)` and `run(args) -> int`. Errors that
siamesekit raises on purpose, and file errors, are printed on stderr as one
line and give exit status 2; nothing prints a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from siamesekit.version import __version__

# Each helper module registers itself here by name.
COMMANDS: tuple[str, ...] = ("compare", "train", "evaluate", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siamesekit",
        description="Siamese neural networks for image comparison.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"siamesekit.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Keep TensorFlow's C++ start-up chatter out of the command's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    from siamesekit.errors import SiamesekitError

    try:
        return int(args.run(args) or 0)
    except (SiamesekitError, OSError) as error:
        print(f"siamesekit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"siamesekit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

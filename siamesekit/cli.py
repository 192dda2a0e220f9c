"""The `siamesekit` command line: `siamesekit COMMAND ...`.

Each command lives in its own module under `siamesekit/commands/` and
provides `add_parser(subparsers)` and `run(args) -> int`. Those modules
import only light modules at the top, so that `--help` and usage errors are
answered before Keras and TensorFlow load; Keras, TensorFlow and the
siamesekit API load (without TensorFlow's start-up lines) only to run a
command.

Every error is one line on stderr: usage errors and the errors siamesekit
raises on purpose, and file errors, give exit status 2; any other exception
is a bug, reported in one line with exit status 1, and with its traceback
under `--debug` or `SIAMESEKIT_DEBUG=1`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from siamesekit.commands.arguments import CommandParser, one_line, print_error
from siamesekit.version import __version__

# Each helper module registers itself here by name.
COMMANDS: tuple[str, ...] = (
    "compare",
    "train",
    "evaluate",
    "index",
    "search",
    "duplicates",
    "demo",
)
DEBUG_VARIABLE = "SIAMESEKIT_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="siamesekit",
        description="Siamese neural networks for image comparison.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"siamesekit.commands.{name}")
        command_parser = module.add_parser(subparsers)
        command_parser.add_argument(
            "--debug",
            action="store_true",
            help="show the Python traceback of an unexpected error (or set "
            f"{DEBUG_VARIABLE}=1)",
        )
    return parser


def _is_out_of_memory(error: BaseException) -> bool:
    # TensorFlow's ResourceExhaustedError, without importing TensorFlow.
    return isinstance(error, MemoryError) or type(error).__name__ in (
        "ResourceExhaustedError",
        "OutOfMemoryError",
    )


def main(argv: list[str] | None = None) -> int:
    # Silences TensorFlow's later C++ log lines (not its start-up lines; see
    # siamesekit/commands/startup.py).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    from siamesekit.commands.startup import load_backend
    from siamesekit.errors import SiamesekitError

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        text = f"{category.__name__}: {one_line(message, 300)}"
        print(f"siamesekit {args.command}: warning: {text}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = one_line_warning
            load_backend()
            return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"siamesekit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        if isinstance(error, (SiamesekitError, OSError)):
            print_error(args.command, str(error))
            return 2
        if _is_out_of_memory(error):
            print_error(
                args.command,
                f"out of memory ({type(error).__name__}: {one_line(error, 150)}); "
                "use a smaller --input-size (compare) or --size (train)",
            )
            return 2
        print(
            f"siamesekit {args.command}: internal error: {type(error).__name__}: "
            f"{one_line(error, 200)} (a bug in siamesekit: run again with --debug "
            "for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

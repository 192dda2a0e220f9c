"""Whether this process was started as the `siamesekit` command.

Light on purpose (standard library only): `siamesekit/__init__.py` asks it
before anything imports Keras.
"""

from __future__ import annotations

import os
import sys

# The console script (pip writes `siamesekit`, on Windows `siamesekit.exe` or
# `siamesekit-script.py`) and `python -m siamesekit.cli`.
_SCRIPT_NAMES = ("siamesekit", "siamesekit.exe", "siamesekit-script.py")
_MODULE_NAME = "siamesekit.cli"


def launched_as_cli(
    argv: list[str] | None = None, orig_argv: list[str] | None = None
) -> bool:
    """Whether the running program is the `siamesekit` command line.

    Args:
        argv: the program's arguments. Defaults to `sys.argv`.
        orig_argv: the interpreter's own arguments. Defaults to `sys.orig_argv`.
    """
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    if argv and os.path.basename(argv[0]) in _SCRIPT_NAMES:
        return True
    # While `python -m siamesekit.cli` imports the package, sys.argv[0] is
    # still "-m"; the interpreter's arguments name the module.
    pairs = zip(orig_argv, orig_argv[1:] + [""])
    return any(
        (first, second) == ("-m", _MODULE_NAME) or first == "-m" + _MODULE_NAME
        for first, second in pairs
    )

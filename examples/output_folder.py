"""Where an example writes its results, so that running it again just works.

With `--out DIR`, the example writes into DIR and refuses (unless
`--overwrite`) when DIR holds one of its own result files already. Without
`--out`, a second run does not stop on the first run's results, nor replace
them: it writes into the next free numbered folder (`coil20_output`, then
`coil20_output_2`, ...).
"""

from __future__ import annotations

import itertools
import os
from typing import Iterable


def holds_any(folder: str, names: Iterable[str]) -> list[str]:
    """The ones of `names` that exist in `folder`."""
    return [name for name in names if os.path.exists(os.path.join(folder, name))]


def output_folder(
    out: str | None, default: str, own_files: Iterable[str], overwrite: bool
) -> str:
    """The folder to write the results into (not yet created).

    Args:
        out: the folder given with --out, or `None`.
        default: the folder name without --out.
        own_files: the file names the example writes.
        overwrite: whether --out's earlier results may be replaced.

    Raises:
        FileExistsError: if `out` holds some of `own_files` and `overwrite`
            is false.
    """
    own_files = tuple(own_files)
    if out is not None:
        earlier = holds_any(out, own_files)
        if earlier and not overwrite:
            raise FileExistsError(
                f"{out} holds {', '.join(earlier)} from an earlier run; pass "
                "--overwrite to replace them, or choose another --out."
            )
        return out
    for number in itertools.count(1):
        folder = default if number == 1 else f"{default}_{number}"
        if not holds_any(folder, own_files):
            return folder
    raise AssertionError("unreachable")

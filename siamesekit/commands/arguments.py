"""Argument parsing for the commands: one-line usage errors and checked types.

Light on purpose (standard library only): `siamesekit --help` and usage
errors are answered before Keras and TensorFlow load.
"""

from __future__ import annotations

import argparse
import sys

# Larger tower inputs exhaust memory in the first convolutions (VGG16 keeps
# 64 float32 channels at full resolution: 1 GiB per image at 2048x2048)
# instead of failing with a message; ImageNet backbones are trained at 224.
MAX_INPUT_SIDE = 2048


class CommandParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one line on stderr.

    argparse prints the whole usage block before the error; this prints
    `PROG: error: MESSAGE (see PROG --help)` and exits with status 2.
    """

    def error(self, message: str):
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer. Received: {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer. Received: {value}"
        )
    return value


def image_side(text: str) -> int:
    """argparse type: an image height or width, 1 to `MAX_INPUT_SIDE` pixels."""
    value = positive_int(text)
    if value > MAX_INPUT_SIDE:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_INPUT_SIDE} pixels (larger inputs exhaust "
            f"memory in the backbone). Received: {value}"
        )
    return value


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number between 0 and 1. Received: {text!r}"
        ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and 1 (exclusive). Received: {value}"
        )
    return value


def cosine(text: str) -> float:
    """argparse type: a cosine similarity, a number from -1 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a cosine similarity from -1 to 1. Received: {text!r}"
        )
    return value


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line (whitespace runs become one space), cut to `limit`
    characters if one is given (for messages of other libraries; siamesekit's
    own errors are kept whole: their ends often say what to do)."""
    text = " ".join(str(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def print_error(command: str, message: str) -> None:
    print(f"siamesekit {command}: error: {one_line(message)}", file=sys.stderr)

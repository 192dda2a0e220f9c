"""Runs the `siamesekit` CLI on a list of bad invocations and counts the answers.

Each invocation runs in its own process (`python -m siamesekit.cli ...`, from
the checkout given by --root). An answer is:

- clean: exit status 2 and exactly one line on stderr, starting with
  "siamesekit" (for the cases marked "ok-json": exit status 0, stdout is
  strict JSON and stderr is empty; for the cases marked "either", an image
  siamesekit may or may not accept: that, or exit status 0 and an empty
  stderr);
- traceback: stderr holds a Python traceback;
- other: anything else (several lines, another exit status, a timeout, ...).

A second column classifies the same answers with TensorFlow's start-up lines
(as siamesekit/commands/startup.py recognises them) removed from stderr first, to
tell TensorFlow's chatter from siamesekit's own failures.

The fixtures (images, odd TIFFs, a text file named .keras, tiny models, one
with NaN weights, one whose output is a feature map) are built first in a
temporary folder. Run:

    .venv/bin/python benchmarks/cli_bad_invocations.py [--root .] [--jobs 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

# compare with a small random-weights tower, so that no download is needed.
_SMALL = ["--backbone", "small_cnn", "--weights", "none", "--input-size", "32", "32"]


def huge_jpeg_header(height: int, width: int) -> bytes:
    """A JPEG whose frame header claims `height` x `width`, with no pixels."""
    frame = struct.pack(">BHHB", 8, height, width, 3) + bytes(
        [1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]
    )
    return (
        b"\xff\xd8"
        + b"\xff\xc0"
        + struct.pack(">H", len(frame) + 2)
        + frame
        + b"\xff\xd9"
    )


def build_fixtures(folder: str) -> dict:
    import keras

    import siamesekit

    rng = np.random.default_rng(0)
    paths = {}

    def path(name):
        paths[name] = os.path.join(folder, name)
        return paths[name]

    image = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    cv2.imwrite(path("a.png"), image)
    cv2.imwrite(path("b.png"), image[::-1])
    with open(path("text.png"), "w") as file:
        file.write("not an image\n")
    open(path("empty.png"), "wb").close()
    encoded = cv2.imencode(".png", image)[1].tobytes()
    with open(path("truncated.png"), "wb") as file:
        file.write(encoded[: len(encoded) // 2])
    corrupt = bytearray(encoded)
    corrupt[40] ^= 0xFF  # inside the first chunk after the header: bad CRC
    with open(path("bad_crc.png"), "wb") as file:
        file.write(bytes(corrupt))
    with open(path("huge.jpg"), "wb") as file:
        file.write(huge_jpeg_header(65000, 65000))
    cv2.imwrite(path("float64.tiff"), rng.uniform(0, 1, (32, 32)).astype(np.float64))
    cv2.imwrite(path("int32.tiff"), rng.integers(-5, 5, (32, 32)).astype(np.int32))
    cv2.imwrite(path("float16.tiff"), rng.uniform(0, 1, (32, 32)).astype(np.float16))
    with open(path("text.keras"), "w") as file:
        file.write("this is not a model\n")
    os.makedirs(path("folder"))
    open(os.path.join(folder, "folder", "keep.txt"), "w").close()
    os.makedirs(path("empty_dir"))
    with open(path("existing.keras"), "w") as file:
        file.write("precious\n")

    # Four identities of three 16x16 grey images each.
    for identity in range(4):
        subfolder = os.path.join(folder, "data", f"id{identity}")
        os.makedirs(subfolder)
        for index in range(3):
            picture = rng.integers(0, 256, size=(16, 16)).astype(np.uint8)
            cv2.imwrite(os.path.join(subfolder, f"{index}.png"), picture)
    paths["data"] = os.path.join(folder, "data")

    model = siamesekit.create_siamese_model(
        (32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=4
    )
    model.save(path("tiny.keras"))
    for variable in model.tower.trainable_variables:
        variable.assign(np.full(variable.shape, np.nan, dtype="float32"))
    model.save(path("nan.keras"))
    inputs = keras.Input((32, 32, 3))
    feature_map = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    keras.Model(inputs, feature_map).save(path("feature_map.keras"))

    # Search: a gallery index, truncated and foreign copies of it, a folder
    # of unreadable files.
    os.makedirs(path("unreadable"))
    for name in ("x.png", "y.jpg"):
        with open(os.path.join(folder, "unreadable", name), "w") as file:
            file.write("not an image\n")
    index = siamesekit.Index(siamesekit.Comparator.from_saved(paths["tiny.keras"]))
    index.add([paths["a.png"], paths["b.png"]])
    index.model_source = {"model": paths["tiny.keras"]}  # as `siamesekit index`
    index.save(path("gallery.index"))
    with open(paths["gallery.index"], "rb") as file:
        data = file.read()
    with open(path("truncated.index"), "wb") as file:
        file.write(data[: len(data) // 2])
    other = siamesekit.create_siamese_model(
        (32, 32, 3), backbone="small_cnn", weights=None, embedding_dim=4
    )
    other.save(path("other.keras"))
    return paths


def invocations(p: dict) -> list[tuple[str, list[str]] | tuple[str, list[str], str]]:
    a, b = p["a.png"], p["b.png"]
    compare = ["compare", a, b]
    return [
        ("no command", []),
        ("unknown command", ["nope"]),
        ("unknown top-level option", ["--bogus"]),
        ("compare, no images", ["compare"]),
        ("compare, one image", ["compare", a]),
        ("missing image", ["compare", p["folder"] + "/no.png", b, *_SMALL]),
        ("missing image, default VGG16", ["compare", p["folder"] + "/no.png", b]),
        ("directory as image", ["compare", a, p["folder"], *_SMALL]),
        ("text file as image", ["compare", a, p["text.png"], *_SMALL]),
        ("empty file as image", ["compare", a, p["empty.png"], *_SMALL]),
        ("truncated PNG", ["compare", a, p["truncated.png"], *_SMALL]),
        ("PNG with a bad CRC", ["compare", a, p["bad_crc.png"], *_SMALL]),
        ("/dev/zero as image", ["compare", a, "/dev/zero", *_SMALL]),
        ("huge JPEG header", ["compare", a, p["huge.jpg"], *_SMALL]),
        ("float64 TIFF", ["compare", a, p["float64.tiff"], *_SMALL], "either"),
        ("int32 TIFF", ["compare", a, p["int32.tiff"], *_SMALL], "either"),
        ("float16 TIFF", ["compare", a, p["float16.tiff"], *_SMALL], "either"),
        ("missing --model", [*compare, "--model", p["folder"] + "/no.keras"]),
        ("text file named .keras", [*compare, "--model", p["text.keras"]]),
        ("directory as --model", [*compare, "--model", p["folder"]]),
        ("image as --model", [*compare, "--model", a]),
        (
            "feature-map model, pixels",
            [*compare, "--model", p["feature_map.keras"], "--method", "pixels"],
        ),
        ("feature-map model, features", [*compare, "--model", p["feature_map.keras"]]),
        (
            "--model with --weights",
            [*compare, "--model", p["tiny.keras"], "--weights", "none"],
        ),
        (
            "--model with --backbone",
            [*compare, "--model", p["tiny.keras"], "--backbone", "vgg16"],
        ),
        ("unknown backbone", [*compare, "--backbone", "nope", "--weights", "none"]),
        (
            "missing weights file",
            [*compare, "--backbone", "small_cnn", "--weights", p["folder"] + "/w.h5"],
        ),
        (
            "--input-size 20000 20000",
            [
                *compare,
                "--backbone",
                "small_cnn",
                "--weights",
                "none",
                "--input-size",
                "20000",
                "20000",
            ],
        ),
        (
            "--input-size 0 0",
            [
                *compare,
                "--backbone",
                "small_cnn",
                "--weights",
                "none",
                "--input-size",
                "0",
                "0",
            ],
        ),
        (
            "--input-size -5 32",
            [
                *compare,
                "--backbone",
                "small_cnn",
                "--weights",
                "none",
                "--input-size",
                "-5",
                "32",
            ],
        ),
        ("--input-size one value", [*compare, "--input-size", "32"]),
        ("--input-size not numbers", [*compare, "--input-size", "a", "b"]),
        (
            "--input-size 8 8 on VGG16",
            [
                *compare,
                "--backbone",
                "vgg16",
                "--weights",
                "none",
                "--input-size",
                "8",
                "8",
            ],
        ),
        ("unknown --method", [*compare, "--method", "nope"]),
        ("unknown --precision", [*compare, "--precision", "nope"]),
        ("unknown compare option", [*compare, "--bogus"]),
        ("--out an existing folder", [*compare, *_SMALL, "--out", p["folder"]]),
        (
            "--out unknown extension",
            [*compare, *_SMALL, "--out", p["folder"] + "/fig.xyz"],
        ),
        (
            "--out in a missing folder",
            [*compare, *_SMALL, "--out", p["folder"] + "/no/fig.png"],
        ),
        ("--out an input image", [*compare, *_SMALL, "--out", a]),
        (
            "--json, NaN weights",
            [*compare, "--model", p["nan.keras"], "--json"],
            "ok-json",
        ),
        ("train, no arguments", ["train"]),
        (
            "train, missing folder",
            ["train", p["folder"] + "/no", "--out", p["folder"] + "/m.keras"],
        ),
        (
            "train, --out not .keras",
            ["train", p["data"], "--out", p["folder"] + "/m.txt"],
        ),
        ("train, --out exists", ["train", p["data"], "--out", p["existing.keras"]]),
        (
            "train, --out in a missing folder",
            ["train", p["data"], "--out", p["folder"] + "/no/m.keras"],
        ),
        (
            "train, --epochs 0",
            ["train", p["data"], "--out", p["folder"] + "/m.keras", "--epochs", "0"],
        ),
        (
            "train, --epochs -1",
            ["train", p["data"], "--out", p["folder"] + "/m.keras", "--epochs", "-1"],
        ),
        (
            "train, --validation 1.5",
            [
                "train",
                p["data"],
                "--out",
                p["folder"] + "/m.keras",
                "--validation",
                "1.5",
            ],
        ),
        (
            "train, --validation 0",
            [
                "train",
                p["data"],
                "--out",
                p["folder"] + "/m.keras",
                "--validation",
                "0",
            ],
        ),
        (
            "train, --size 0 0",
            ["train", p["data"], "--out", p["folder"] + "/m.keras", "--size", "0", "0"],
        ),
        (
            "train, --channels 2",
            ["train", p["data"], "--out", p["folder"] + "/m.keras", "--channels", "2"],
        ),
        (
            "train, empty folder",
            ["train", p["empty_dir"], "--out", p["folder"] + "/m.keras"],
        ),
        ("train, a file as folder", ["train", a, "--out", p["folder"] + "/m.keras"]),
        ("evaluate, no arguments", ["evaluate"]),
        ("evaluate, missing model", ["evaluate", p["folder"] + "/no.keras", p["data"]]),
        ("evaluate, text file named .keras", ["evaluate", p["text.keras"], p["data"]]),
        (
            "evaluate, missing folder",
            ["evaluate", p["tiny.keras"], p["folder"] + "/no"],
        ),
        (
            "evaluate, --max-pairs 0",
            ["evaluate", p["tiny.keras"], p["data"], "--max-pairs", "0"],
        ),
        (
            "evaluate, --max-pairs -1",
            ["evaluate", p["tiny.keras"], p["data"], "--max-pairs", "-1"],
        ),
        (
            "evaluate, feature-map model",
            ["evaluate", p["feature_map.keras"], p["data"]],
        ),
        (
            "evaluate, --plots a file",
            ["evaluate", p["tiny.keras"], p["data"], "--plots", a],
        ),
        (
            "index, empty folder",
            [
                "index",
                p["empty_dir"],
                "--out",
                p["folder"] + "/g.index",
                "--model",
                p["tiny.keras"],
            ],
        ),
        (
            "index, unreadable files only",
            [
                "index",
                p["unreadable"],
                "--out",
                p["folder"] + "/g.index",
                "--model",
                p["tiny.keras"],
            ],
        ),
        (
            "index, --out exists",
            [
                "index",
                p["data"],
                "--out",
                p["gallery.index"],
                "--model",
                p["tiny.keras"],
            ],
        ),
        (
            "index, --out a folder",
            ["index", p["data"], "--out", p["folder"], "--model", p["tiny.keras"]],
        ),
        (
            "index, unknown --kind",
            ["index", p["data"], "--out", p["folder"] + "/g.index", "--kind", "nope"],
        ),
        ("search, truncated index", ["search", p["truncated.index"], a]),
        ("search, an image as index", ["search", a, a]),
        ("search, missing index", ["search", p["folder"] + "/no.index", a]),
        (
            "search, another model",
            ["search", p["gallery.index"], a, "--model", p["other.keras"]],
        ),
        ("search, -k 0", ["search", p["gallery.index"], a, "-k", "0"]),
        ("search, -k -3", ["search", p["gallery.index"], a, "-k", "-3"]),
        (
            "search, missing query",
            ["search", p["gallery.index"], p["folder"] + "/no.png"],
        ),
        ("search, unreadable query", ["search", p["gallery.index"], p["text.png"]]),
        (
            "duplicates, empty folder",
            ["duplicates", p["empty_dir"], "--model", p["tiny.keras"]],
        ),
        (
            "duplicates, unreadable files only",
            ["duplicates", p["unreadable"], "--model", p["tiny.keras"]],
        ),
        (
            "duplicates, missing folder",
            ["duplicates", p["folder"] + "/no", "--model", p["tiny.keras"]],
        ),
        (
            "duplicates, --min-similarity 1.5",
            [
                "duplicates",
                p["data"],
                "--model",
                p["tiny.keras"],
                "--min-similarity",
                "1.5",
            ],
        ),
        (
            "duplicates, --min-similarity -2",
            [
                "duplicates",
                p["data"],
                "--model",
                p["tiny.keras"],
                "--min-similarity",
                "-2",
            ],
        ),
        (
            "duplicates, --min-similarity nan",
            [
                "duplicates",
                p["data"],
                "--model",
                p["tiny.keras"],
                "--min-similarity",
                "nan",
            ],
        ),
        (
            "duplicates, --report exists",
            ["duplicates", p["data"], "--model", p["tiny.keras"], "--report", a],
        ),
        ("demo, no --out", ["demo"]),
        ("demo, --out a file", ["demo", "--out", a]),
        ("demo, --epochs 0", ["demo", "--out", p["folder"] + "/demo", "--epochs", "0"]),
        (
            "demo, --epochs -3",
            ["demo", "--out", p["folder"] + "/demo", "--epochs", "-3"],
        ),
    ]


# TensorFlow's start-up lines, as siamesekit/commands/startup.py knows them
# (copied so that the script can measure checkouts that lack that module).
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ ([\w.]+):\d+\] ")
_HARMLESS_SOURCES = ("cuda_platform.cc", "cuda_executor.cc", "cuda_diagnostics.cc")
_BANNERS = (
    "WARNING: All log messages before absl::InitializeLog() is called",
    "To enable the following instructions:",
)


def is_start_up_line(line: str) -> bool:
    if line.startswith(_BANNERS):
        return True
    match = _ABSL_LINE.match(line)
    return match is not None and (
        match.group(1) == "I" or match.group(2) in _HARMLESS_SOURCES
    )


def classify(expect: str, completed, drop_start_up=False) -> tuple[str, str]:
    if completed is None:
        return "other", "timed out"
    stderr_lines = [
        line
        for line in completed.stderr.splitlines()
        if line.strip() and not (drop_start_up and is_start_up_line(line))
    ]
    if "Traceback (most recent call last)" in completed.stderr:
        return "traceback", stderr_lines[-1] if stderr_lines else ""
    if expect == "ok-json":
        try:
            json.loads(
                completed.stdout,
                parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)),
            )
        except ValueError as error:
            return "other", f"exit {completed.returncode}, invalid JSON: {error}"
        if completed.returncode == 0 and not stderr_lines:
            return "clean", completed.stdout.strip()
        return "other", f"exit {completed.returncode}, {len(stderr_lines)} lines"
    if expect == "either" and completed.returncode == 0 and not stderr_lines:
        return "clean", completed.stdout.strip().replace("\n", "; ")
    if (
        completed.returncode == 2
        and len(stderr_lines) == 1
        and stderr_lines[0].startswith("siamesekit")
    ):
        return "clean", stderr_lines[0]
    first = stderr_lines[0] if stderr_lines else completed.stdout.strip()[:100]
    return "other", (
        f"exit {completed.returncode}, {len(stderr_lines)} stderr lines: {first}"
    )


def run_one(root: str, arguments: list[str], timeout: float):
    environment = dict(
        os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "tensorflow")
    )
    try:
        return subprocess.run(
            [sys.executable, "-m", "siamesekit.cli", *arguments],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment,
        )
    except subprocess.TimeoutExpired:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="checkout to run (default: .)")
    parser.add_argument("--jobs", type=int, default=2, help="processes at once")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--verbose", action="store_true", help="print each answer")
    parser.add_argument("--only", help="run the invocations whose name has this")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    # The fixtures' models come from the checkout under test too.
    sys.path.insert(0, root)
    with tempfile.TemporaryDirectory() as folder:
        cases = invocations(build_fixtures(folder))
        if args.only:
            cases = [case for case in cases if args.only in case[0]]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            answers = list(
                pool.map(lambda case: run_one(root, case[1], args.timeout), cases)
            )
        counts = {"clean": [0, 0], "traceback": [0, 0], "other": [0, 0]}
        width = max(len(case[0]) for case in cases)
        print(f"{'invocation':<{width}}  {'answer':<9}  {'w/o TF':<9}  detail")
        for case, completed in zip(cases, answers):
            expect = case[2] if len(case) > 2 else "error"
            verdict, detail = classify(expect, completed)
            filtered, filtered_detail = classify(expect, completed, True)
            counts[verdict][0] += 1
            counts[filtered][1] += 1
            if args.verbose or verdict != "clean":
                print(
                    f"{case[0]:<{width}}  {verdict:<9}  {filtered:<9}  "
                    f"{filtered_detail[:150]}"
                )
        print()
        print(f"{'answer':<10}{'count':>6}{'w/o TF start-up lines':>24}")
        for verdict, (count, without) in counts.items():
            print(f"{verdict:<10}{count:>6}{without:>24}")
        print(f"{'total':<10}{len(cases):>6}")
        assert math.fsum(c[0] for c in counts.values()) == len(cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())

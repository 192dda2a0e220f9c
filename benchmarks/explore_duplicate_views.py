"""Would several views per image find cropped copies? An exploration.

The duplicates model of `bench_duplicates.py` finds almost no crops: one
global embedding of a 64x64 image does not follow a crop of 75-90%. This
script trains the same model on the same data (same seed, same halves) and
scores every pair of the test half two ways, at the pair level (no groups):

- one view: the cosine similarity of the two images' embeddings;
- views: the best similarity between one image's whole view and the other's
  whole view or one of its five crops (the centre and the four corners,
  `--crop` of each side), either way round: a copy is a crop of its
  original, not the other way round, so the whole view of one side is kept.

Each way's threshold is chosen on the training half by the benchmark's rule
(`bench_duplicates.choose_threshold`: the loosest with pair precision >=
0.95), then precision and recall are measured on the test
half, overall and per copy kind, with the hard negatives found.

Usage:
    python benchmarks/explore_duplicate_views.py [--epochs 15] [--crop 0.8]
        [--seed 0] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_duplicates as bench  # noqa: E402

import siamesekit  # noqa: E402
from siamesekit.data import load_image  # noqa: E402
from siamesekit.training import DUPLICATES_CONFIG, train_duplicates_model  # noqa: E402


def views(pixels: np.ndarray, crop: float) -> list[np.ndarray]:
    """The whole image, then its centre and four corner crops."""
    height, width = pixels.shape[:2]
    crop_h, crop_w = max(1, round(height * crop)), max(1, round(width * crop))
    tops = {"centre": (height - crop_h) // 2, "top": 0, "bottom": height - crop_h}
    lefts = {"centre": (width - crop_w) // 2, "left": 0, "right": width - crop_w}
    corners = [
        (tops["centre"], lefts["centre"]),
        (tops["top"], lefts["left"]),
        (tops["top"], lefts["right"]),
        (tops["bottom"], lefts["left"]),
        (tops["bottom"], lefts["right"]),
    ]
    return [pixels] + [
        pixels[top : top + crop_h, left : left + crop_w] for top, left in corners
    ]


def similarities(comparator, items, crop: float):
    """`(one_view, best_view)` similarity matrices of the items."""
    per_item = [views(load_image(item.path, channels=3), crop) for item in items]
    count = len(per_item[0])
    flat = [view for item_views in per_item for view in item_views]
    embeddings = comparator.embed(flat).reshape(len(items), count, -1)
    whole = embeddings[:, 0]
    one_view = whole @ whole.T
    # whole view of a against every view of b, and the other way round.
    whole_vs_views = np.einsum("ad,bvd->abv", whole, embeddings).max(axis=2)
    best_view = np.maximum(whole_vs_views, whole_vs_views.T)
    return one_view, best_view


class MatrixMethod:
    """A similarity matrix's pairs, in the shape `bench.choose_threshold` takes."""

    grid = bench.SIMILARITY_GRID

    @staticmethod
    def pairs(matrix: np.ndarray, threshold: float) -> set[tuple[int, int]]:
        rows, columns = np.nonzero(np.triu(matrix >= threshold, k=1))
        return set(zip(rows.tolist(), columns.tolist()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=bench.DEFAULT_DATA, type=bench.pathlib.Path)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--crop", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 4 people, 3 objects, 3 photos, 1 epoch",
    )
    args = parser.parse_args(argv)
    people, objects, photos = 40, 20, len(bench.SKIMAGE_PHOTOS)
    if args.quick:
        people, objects, photos, args.epochs = 4, 3, 3, 1
    if not (args.data / "orl_faces").is_dir():
        print(f"real data folder {args.data} is absent", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    originals = bench.read_originals(args.data, people, objects, photos, rng)
    train_indices, test_indices = bench.split_groups(originals, rng)
    with tempfile.TemporaryDirectory() as folder:
        halves = {}
        for name, indices in (("train", train_indices), ("test", test_indices)):
            os.makedirs(os.path.join(folder, name))
            halves[name] = bench.write_half(
                originals, indices, os.path.join(folder, name), 1, rng
            )
        os.makedirs(os.path.join(folder, "groups"))
        train_images = bench.group_images(
            args.data, originals, train_indices, os.path.join(folder, "groups")
        )
        config = dataclasses.replace(
            DUPLICATES_CONFIG, epochs=args.epochs, seed=args.seed
        )
        model, _ = train_duplicates_model(
            train_images, image_size=(64, 64), config=config, verbose=0
        )
        comparator = siamesekit.Comparator(model, progress=False)
        matrices = {
            name: similarities(comparator, items, args.crop)
            for name, items in halves.items()
        }
        train_truth = bench.true_pairs(halves["train"])
        test_items = halves["test"]
        test_truth = bench.true_pairs(test_items)
        test_hard = bench.hard_negatives(test_items, originals)
        print(
            f"Trained on {len(train_images)} photos ({args.epochs} epochs); "
            f"test half: {len(test_items)} images, {len(test_truth)} duplicate "
            f"pairs, {len(test_hard)} hard-negative pairs; crops of {args.crop}"
        )
        print(
            f"{'scoring':12}{'threshold':>11}{'precision':>11}{'recall':>8}"
            f"{'hard neg.':>11}  per kind recall: " + " ".join(bench.COPY_KINDS)
        )
        for way, column in (("one view", 0), ("views", 1)):
            threshold = bench.choose_threshold(
                MatrixMethod, matrices["train"][column], train_truth
            )
            found = MatrixMethod.pairs(matrices["test"][column], threshold)
            precision, recall = bench.precision_recall(found, test_truth)
            kinds = bench.per_kind(test_items, found, test_truth)
            print(
                f"{way:12}{threshold:>11.4f}{precision:>11.3f}{recall:>8.3f}"
                f"{len(found & test_hard):>11}  "
                + " ".join(f"{kind_recall:.2f}" for _, _, kind_recall in kinds)
            )
    print(f"Total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

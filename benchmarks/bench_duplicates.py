"""Near-duplicates on real photos: a trained duplicates model against hashes.

Originals are real photos: scikit-image's `skimage.data` photos and
scikit-learn's two sample images, and two photos of each person of ORL
faces and two poses of each object of COIL-20 (`../shared/data`). Each
original gets copies of six kinds, made with OpenCV: JPEG re-encoding,
rescaling, cropping, colour changes, a small rotation and a text overlay
(`cv2.putText`). An original and its copies are duplicates of each other;
two originals never are, and the second photo of the same person, object or
scene (the stereo pair of `stereo_motorcycle`) is a hard negative.

The people, objects and photos are split in two halves. The duplicates model
(`siamesekit.training.train_duplicates_model`) trains, without labels, on
every photo of the training half's people, objects and scenes (all ten ORL
photos of a person, all 50 COIL poses of an object; `--train-on originals`
for the originals only); it never sees a copy made here, nor the test half.
On the training half each method's threshold is chosen by one rule: the
lowest threshold whose duplicate pairs have precision >= 0.95 (the highest
precision if none reaches it; the scan from strict to loose stops once
precision falls below 0.5). Precision and recall of duplicate pairs are then
measured on the test half, for:

(a) `find_duplicates` with the trained duplicates model;
(a') the same, with each proposed pair confirmed by the pixels
    (`find_duplicates(..., verify=GeometricCheck())`: SIFT keypoints,
    a RANSAC similarity transform, a band-pass correlation); its
    `min_similarity` only proposes pairs, so it is chosen by a recall rule:
    the strictest similarity that proposes 99.9% of the training half's
    duplicate pairs; and again with the pairs at least as similar as (a)'s
    threshold kept without the check (`verify_below`);
(b) `find_duplicates` with a random-weight VGG16 tower
    (`siamesekit.EmbeddingTower(weights=None)`);
(c) perceptual hashes (`imagehash` pHash and dHash, 64 bits) at Hamming
    distance <= 10, imagededup's default, and at the threshold the rule picks.

A pair counts as found by `find_duplicates` when both images are in one
group; a hash finds every pair within its Hamming distance (as imagededup
reports them). Per copy kind, recall is over the (original, copy) pairs of
that kind and precision over the found pairs that hold a copy of that kind;
per source (scikit photos, faces, objects) the same, by where the originals
come from.

Usage:
    python benchmarks/bench_duplicates.py [--size 64] [--epochs 40]
        [--people 40] [--objects 20] [--seed 0] [--quick]
        [--loss nt_xent] [--pooling flatten] [--train-on groups|originals]
        [--batches-per-epoch N]
        [--min-small-correlation 0.78] [--small-high-pass 1.5|none]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import siamesekit  # noqa: E402
from siamesekit.search import GeometricCheck  # noqa: E402
from siamesekit.search.geometric_check import (  # noqa: E402
    DEFAULT_MIN_SMALL_CORRELATION,
    DEFAULT_SMALL_HIGH_PASS,
)
from siamesekit.training import DUPLICATES_CONFIG, train_duplicates_model  # noqa: E402

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared/data"
COPY_KINDS = ("jpeg", "rescale", "crop", "colour", "rotation", "text")
# `skimage.data` photos that ship with scikit-image (no download).
SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
CAPTIONS = ("SALE -50%", "(c) 2024 photo", "holiday", "#tbt", "Sample", "www.x.com")
TARGET_PRECISION = 0.95
# Of the training half's duplicate pairs, the share proposed to the check.
CANDIDATE_RECALL = 0.999
HASH_THRESHOLD = 10


@dataclasses.dataclass(frozen=True)
class Original:
    group: str  # person, object or scene: originals of one group are hard negatives
    name: str
    pixels: np.ndarray  # uint8, HxW or HxWx3


@dataclasses.dataclass(frozen=True)
class Item:
    path: str
    original: int  # index of its original: same index, duplicates
    kind: str  # "original" or one of COPY_KINDS


# Data ------------------------------------------------------------------------


def read_originals(data: pathlib.Path, people: int, objects: int, photos: int, rng):
    import skimage.data
    from sklearn.datasets import load_sample_images

    originals = []
    for name in SKIMAGE_PHOTOS[:photos]:
        originals.append(Original(name, name, getattr(skimage.data, name)()))
    if photos > 0:
        left, right, _ = skimage.data.stereo_motorcycle()
        originals.append(Original("motorcycle", "motorcycle_left", left))
        originals.append(Original("motorcycle", "motorcycle_right", right))
        sample = load_sample_images()
        for file_name, pixels in zip(sample.filenames, sample.images):
            name = pathlib.Path(file_name).stem
            originals.append(Original(name, name, pixels))
    faces = data / "orl_faces"
    for person in range(1, people + 1):
        for photo in rng.choice(np.arange(1, 11), 2, replace=False):
            pixels = cv2.imread(str(faces / f"s{person}" / f"{photo}.pgm"), 0)
            originals.append(Original(f"s{person}", f"s{person}_{photo}", pixels))
    coil = data / "coil20_32px"
    for item in range(1, objects + 1):
        # Two poses at least a quarter turn of the turntable apart.
        first = int(rng.integers(0, 50))
        second = (first + int(rng.integers(12, 38))) % 50
        for pose in (first, second):
            pixels = cv2.imread(str(coil / f"obj{item}__{pose}.png"), 0)
            originals.append(Original(f"obj{item}", f"obj{item}_{pose}", pixels))
    return originals


def group_images(data: pathlib.Path, originals, indices, folder: str) -> list[str]:
    """Every photo of the groups of `indices`, unlabelled, written as files.

    All ten ORL photos of each person and all 50 COIL poses of each object
    (the originals among them), and the scikit photos themselves: what a
    user's unlabelled folder would hold. No copy made here is among them.
    """
    groups = sorted({originals[index].group for index in indices})
    paths = []
    for group in groups:
        members = [originals[i] for i in indices if originals[i].group == group]
        source = source_of(members[0])
        if source == "face":
            files = [data / "orl_faces" / group / f"{k}.pgm" for k in range(1, 11)]
        elif source == "object":
            files = [data / "coil20_32px" / f"{group}__{k}.png" for k in range(50)]
        else:
            for member in members:
                path = os.path.join(folder, f"{member.name}.png")
                paths.append(write_image(path, member.pixels))
            continue
        paths.extend(str(file) for file in files)
    return paths


def make_copy(pixels: np.ndarray, kind: str, rng) -> tuple[np.ndarray, dict]:
    """A copy of `pixels` of one kind, and the JPEG quality to save it at."""
    height, width = pixels.shape[:2]
    if kind == "jpeg":
        return pixels, {"quality": int(rng.integers(20, 60))}
    if kind == "rescale":
        factor = rng.uniform(0.4, 0.7)
        size = (max(8, round(width * factor)), max(8, round(height * factor)))
        return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), {}
    if kind == "crop":
        keep = rng.uniform(0.75, 0.9)
        crop_h, crop_w = round(height * keep), round(width * keep)
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
        return pixels[top : top + crop_h, left : left + crop_w], {}
    if kind == "colour":
        image = pixels.astype(np.float32)
        if image.ndim == 3:
            hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV).astype(np.float32)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(8, 18) * rng.choice([-1, 1])) % 180
            hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.5, 1.5), 0, 255)
            image = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
            image = image.astype(np.float32)
        gain = rng.uniform(0.7, 1.3)
        offset = rng.uniform(25, 45) * rng.choice([-1, 1])
        image = 255.0 * (np.clip(image * gain + offset, 0, 255) / 255.0) ** (
            rng.uniform(0.75, 1.3)
        )
        return np.clip(image, 0, 255).astype(np.uint8), {}
    if kind == "rotation":
        angle = rng.uniform(3, 10) * rng.choice([-1, 1])
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1)
        return cv2.warpAffine(pixels, matrix, (width, height)), {}
    if kind == "text":
        image = pixels.copy()
        caption = CAPTIONS[int(rng.integers(len(CAPTIONS)))]
        scale = max(height, width) / 400 * rng.uniform(0.8, 1.6)
        thickness = max(1, round(scale * 2))
        (text_w, text_h), _ = cv2.getTextSize(
            caption, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness
        )
        x = int(rng.integers(0, max(1, width - text_w)))
        y = int(rng.integers(text_h, max(text_h + 1, height)))
        colour = [(255, 255, 255), (0, 0, 0), (255, 220, 0)][int(rng.integers(3))]
        if image.ndim == 2:
            colour = int(np.mean(colour))
        cv2.putText(
            image, caption, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness
        )
        return image, {}
    raise ValueError(kind)


def write_image(path: str, pixels: np.ndarray, quality: int | None = None) -> str:
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if quality is None:
        cv2.imwrite(path, pixels)
    else:
        cv2.imwrite(path, pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


def write_half(originals, indices, folder: str, copies_per_kind: int, rng):
    """The originals `indices` and their copies as files; one Item each."""
    items = []
    for index in indices:
        original = originals[index]
        path = os.path.join(folder, f"{index:04d}_{original.name}.png")
        items.append(Item(write_image(path, original.pixels), index, "original"))
        for kind, number in itertools.product(COPY_KINDS, range(copies_per_kind)):
            pixels, options = make_copy(original.pixels, kind, rng)
            extension = ".jpg" if "quality" in options else ".png"
            path = os.path.join(folder, f"{index:04d}_{kind}{number}{extension}")
            write_image(path, pixels, options.get("quality"))
            items.append(Item(path, index, kind))
    return items


def split_groups(originals, rng):
    """Indices of the training and the test originals: whole groups each."""
    train, test = [], []
    for source in ("photo", "face", "object"):
        groups = sorted({o.group for o in originals if source_of(o) == source}, key=str)
        rng.shuffle(groups)
        held_out = set(groups[: len(groups) // 2])
        for index, original in enumerate(originals):
            if source_of(original) == source:
                (test if original.group in held_out else train).append(index)
    return sorted(train), sorted(test)


def source_of(original: Original) -> str:
    if original.group.startswith("obj"):
        return "object"
    if original.group[0] == "s" and original.group[1:].isdigit():
        return "face"
    return "photo"


# Methods ---------------------------------------------------------------------


def build_index(comparator, paths):
    """A `siamesekit.Index` of `paths` (their ids), and the row of each id."""
    index = siamesekit.Index(comparator)
    result = index.add(paths)
    if result.skipped:
        raise RuntimeError(f"unreadable benchmark files: {result.skipped}")
    return index, {path: row for row, path in enumerate(paths)}


def duplicate_groups(prepared, min_similarity: float) -> list[tuple[int, ...]]:
    """`siamesekit.find_duplicates` groups, as tuples of row numbers."""
    index, rows = prepared
    report = siamesekit.find_duplicates(index, min_similarity=min_similarity)
    return [tuple(rows[id_] for id_ in group.ids) for group in report.groups]


def pairs_of_groups(groups) -> set[tuple[int, int]]:
    return {
        (min(a, b), max(a, b))
        for group in groups
        for a, b in itertools.combinations(group, 2)
    }


# Similarity thresholds: steps of 0.01 up to 0.9, then 120 steps that shrink
# towards 1 (0.0018 wide at 0.98, 1e-7 near 0.999999), where the thresholds
# of trained and of random weights lie.
SIMILARITY_GRID = np.unique(
    np.concatenate([np.arange(-1.0, 0.9, 0.01), 1.0 - np.geomspace(0.1, 1e-6, 120)])
)


class EmbeddingMethod:
    def __init__(self, name, comparator):
        self.name, self.comparator = name, comparator
        self.grid = SIMILARITY_GRID

    def prepare(self, items):
        return build_index(self.comparator, [item.path for item in items])

    def pairs(self, prepared, threshold):
        return pairs_of_groups(duplicate_groups(prepared, threshold))

    def choose(self, prepared, truth):
        return choose_threshold(self, prepared, truth)

    @staticmethod
    def describe(threshold):
        return f"similarity >= {threshold:.4f}"

    def summary(self, prepared, seconds) -> str | None:
        """A line on how the last `pairs` call went, or `None`."""
        return None


class RememberingCheck(GeometricCheck):
    """A `GeometricCheck` that remembers each image and pair it has seen.

    The threshold scan groups the same pairs again at every threshold; the
    answers do not change, so each pair is checked once.
    """

    def __init__(self, **check_arguments):
        super().__init__(**check_arguments)
        self._features_of, self._match_of = {}, {}

    def features(self, image):
        if image not in self._features_of:
            self._features_of[image] = super().features(image)
        return self._features_of[image]

    def match(self, first, second):
        key = (id(first), id(second))
        if key not in self._match_of:
            self._match_of[key] = super().match(first, second)
        return self._match_of[key]

    @property
    def pairs_checked(self) -> int:
        return len(self._match_of)


class VerifiedMethod(EmbeddingMethod):
    """Embeddings propose pairs, `GeometricCheck` confirms them.

    With `trust_embeddings`, pairs at least as similar as the embeddings-only
    threshold (chosen on the training half by the precision rule) are kept
    without the check (`find_duplicates(..., verify_below=...)`).
    """

    def __init__(
        self,
        name,
        comparator,
        candidate_recall=CANDIDATE_RECALL,
        trust_embeddings=False,
        check_arguments=None,
    ):
        super().__init__(name, comparator)
        self.candidate_recall = candidate_recall
        self.trust_embeddings = trust_embeddings
        self.check_arguments = check_arguments or {}
        self.verify_below = None

    def prepare(self, items):
        index, rows = super().prepare(items)
        return index, rows, RememberingCheck(**self.check_arguments)

    def pairs(self, prepared, threshold):
        index, rows, check = prepared
        report = siamesekit.find_duplicates(
            index,
            min_similarity=threshold,
            verify=check,
            verify_below=self.verify_below,
        )
        groups = [tuple(rows[id_] for id_ in group.ids) for group in report.groups]
        return pairs_of_groups(groups)

    def choose(self, prepared, truth):
        """The strictest similarity that proposes `candidate_recall` (99.9%)
        of the duplicate pairs."""
        index, rows, _ = prepared
        if self.trust_embeddings:
            alone = EmbeddingMethod(self.name, self.comparator)
            self.verify_below = choose_threshold(alone, (index, rows), truth)
        embeddings = index.embeddings_of(index.ids)
        first, second = np.array(sorted(truth)).T
        similarities = np.sum(embeddings[first] * embeddings[second], axis=1)
        return float(np.quantile(similarities, 1 - self.candidate_recall))

    def describe(self, threshold):
        text = f"similarity >= {threshold:.4f}"
        if self.verify_below is not None:
            text += f", unchecked >= {self.verify_below:.4f}"
        return text

    def summary(self, prepared, seconds):
        return (
            f"{self.name}: {prepared[2].pairs_checked} proposed pairs of the "
            f"test half checked in {seconds:.0f} s by {prepared[2]!r}"
        )


class HashMethod:
    def __init__(self, name, function, fixed=None):
        self.name, self.function, self.fixed = name, function, fixed
        self.grid = np.arange(0, 33)[::-1]  # a lower distance is stricter

    def prepare(self, items):
        from PIL import Image

        bits = []
        for item in items:
            with Image.open(item.path) as image:
                bits.append(self.function(image).hash.reshape(-1))
        bits = np.array(bits, np.int32)
        return (bits[:, None, :] != bits[None, :, :]).sum(axis=2)

    def choose(self, prepared, truth):
        return choose_threshold(self, prepared, truth)

    def pairs(self, distances, threshold):
        rows, columns = np.nonzero(np.triu(distances <= threshold, k=1))
        return set(zip(rows.tolist(), columns.tolist()))

    @staticmethod
    def describe(threshold):
        return f"Hamming <= {threshold}"

    def summary(self, prepared, seconds):
        return None


def true_pairs(items) -> set[tuple[int, int]]:
    return {
        (a, b)
        for a, b in itertools.combinations(range(len(items)), 2)
        if items[a].original == items[b].original
    }


def precision_recall(found, truth):
    hits = len(found & truth)
    precision = hits / len(found) if found else float("nan")
    return precision, hits / len(truth)


def choose_threshold(method, prepared, truth):
    """The rule: the loosest threshold with precision >= 0.95 on these pairs."""
    best, best_precision = None, -1.0
    # From strict to loose: the last one that still meets the target wins.
    for threshold in method.grid[::-1]:
        precision, _ = precision_recall(method.pairs(prepared, threshold), truth)
        if np.isnan(precision):
            continue
        if precision >= TARGET_PRECISION:
            best, best_precision = threshold, TARGET_PRECISION
        elif best_precision >= TARGET_PRECISION and precision < 0.5:
            break  # far below the target: looser ones only add false pairs
        elif best_precision < TARGET_PRECISION and precision > best_precision:
            best, best_precision = threshold, precision
    return best


def per_kind(items, found, truth):
    rows = []
    for kind in COPY_KINDS:
        kind_truth = {
            pair
            for pair in truth
            if {items[pair[0]].kind, items[pair[1]].kind} == {"original", kind}
        }
        kind_found = {
            pair for pair in found if kind in (items[pair[0]].kind, items[pair[1]].kind)
        }
        hits = len(kind_found & truth)
        precision = hits / len(kind_found) if kind_found else float("nan")
        recall = len(found & kind_truth) / len(kind_truth)
        rows.append((kind, precision, recall))
    return rows


SOURCES = ("photo", "face", "object")


def per_source(items, originals, found, truth):
    """Precision / recall by where the originals come from: recall over the
    duplicate pairs of that source, precision over the found pairs with an
    image of it (a false pair of a face and an object counts for both)."""
    source = [source_of(originals[item.original]) for item in items]
    rows = []
    for name in SOURCES:
        source_truth = {pair for pair in truth if source[pair[0]] == name}
        source_found = {
            pair for pair in found if name in (source[pair[0]], source[pair[1]])
        }
        hits = len(source_found & truth)
        precision = hits / len(source_found) if source_found else float("nan")
        recall = (
            len(found & source_truth) / len(source_truth)
            if source_truth
            else float("nan")
        )
        rows.append((name, precision, recall))
    return rows


def hard_negatives(items, originals) -> set[tuple[int, int]]:
    """Pairs of an original and another original (or its copy) of one group."""
    return {
        (a, b)
        for a, b in itertools.combinations(range(len(items)), 2)
        if items[a].original != items[b].original
        and originals[items[a].original].group == originals[items[b].original].group
    }


def print_breakdown(title, columns, table):
    """One row per method of `(column, precision, recall)` cells."""
    print(f"\n{title} (precision / recall on the test half):")
    print("  ".join(["method".ljust(42)] + [column.ljust(11) for column in columns]))
    for name, values in table.items():
        cells = [f"{p:.2f} / {r:.2f}".ljust(11) for _, p, r in values]
        print("  ".join([name.ljust(42)] + cells))


# Main ------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=64, help="model input side")
    parser.add_argument("--vgg-size", type=int, default=64, help="VGG16 input side")
    parser.add_argument("--epochs", type=int, default=DUPLICATES_CONFIG.epochs)
    parser.add_argument(
        "--loss",
        choices=("contrastive", "nt_xent", "triplet"),
        default=DUPLICATES_CONFIG.loss,
        help="the duplicates model's in-batch loss",
    )
    parser.add_argument(
        "--pooling",
        choices=("flatten", "avg", "max"),
        default=DUPLICATES_CONFIG.pooling,
        help="the duplicates model's pooling of the last feature map",
    )
    parser.add_argument(
        "--train-on",
        choices=("groups", "originals"),
        default="groups",
        help="train the duplicates model on every unlabelled photo of the "
        "training half's people, objects and scenes, or on its originals only",
    )
    parser.add_argument(
        "--batches-per-epoch",
        type=int,
        default=None,
        help="training batches per epoch (default: one pass over the images)",
    )
    parser.add_argument(
        "--candidate-recall",
        type=float,
        default=CANDIDATE_RECALL,
        help="share of the training half's duplicate pairs the verified "
        "method's min_similarity proposes to the geometric check",
    )
    parser.add_argument(
        "--min-small-correlation",
        type=float,
        default=DEFAULT_MIN_SMALL_CORRELATION,
        help="GeometricCheck's threshold for pairs with a thumbnail",
    )
    parser.add_argument(
        "--small-high-pass",
        type=lambda text: None if text == "none" else float(text),
        default=DEFAULT_SMALL_HIGH_PASS,
        help="GeometricCheck's high-pass sigma for thumbnails, or 'none'",
    )
    parser.add_argument("--people", type=int, default=40, help="ORL people (<= 40)")
    parser.add_argument("--objects", type=int, default=20, help="COIL objects (<= 20)")
    parser.add_argument(
        "--photos", type=int, default=len(SKIMAGE_PHOTOS), help="skimage photos"
    )
    parser.add_argument("--copies-per-kind", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 4 people, 3 objects, 3 photos, 2 epochs",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.objects, args.photos, args.epochs = 4, 3, 3, 2
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.data / "orl_faces").is_dir():
        print(f"real data folder {args.data} is absent", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    originals = read_originals(args.data, args.people, args.objects, args.photos, rng)
    train_indices, test_indices = split_groups(originals, rng)
    import imagehash

    with tempfile.TemporaryDirectory() as folder:
        halves = {}
        for name, indices in (("train", train_indices), ("test", test_indices)):
            os.makedirs(os.path.join(folder, name))
            halves[name] = write_half(
                originals,
                indices,
                os.path.join(folder, name),
                args.copies_per_kind,
                rng,
            )
        train_items, test_items = halves["train"], halves["test"]
        print(
            f"{len(originals)} originals: {len(train_indices)} in the training "
            f"half, {len(test_indices)} in the test half; "
            f"{len(train_items)} and {len(test_items)} images with the copies"
        )

        if args.train_on == "groups":
            os.makedirs(os.path.join(folder, "groups"))
            train_images = group_images(
                args.data, originals, train_indices, os.path.join(folder, "groups")
            )
        else:
            train_images = [
                item.path for item in train_items if item.kind == "original"
            ]
        config = dataclasses.replace(
            DUPLICATES_CONFIG,
            epochs=args.epochs,
            loss=args.loss,
            pooling=args.pooling,
            batches_per_epoch=args.batches_per_epoch,
            seed=args.seed,
        )
        training_started = time.perf_counter()
        model, _ = train_duplicates_model(
            train_images,
            image_size=(args.size, args.size),
            config=config,
            verbose=0,
        )
        training_seconds = time.perf_counter() - training_started
        what = "images of the training groups"
        if args.train_on == "originals":
            what = "originals"
        print(
            f"Trained the duplicates model on {len(train_images)} {what} "
            f"({args.size}x{args.size}, {args.epochs} epochs, {args.loss} loss) in "
            f"{training_seconds:.0f} s"
        )
        vgg = siamesekit.EmbeddingTower(
            input_shape=(args.vgg_size, args.vgg_size, 3), weights=None
        )
        check_arguments = {
            "min_small_correlation": args.min_small_correlation,
            "small_high_pass": args.small_high_pass,
        }
        methods = [
            EmbeddingMethod(
                "duplicates model", siamesekit.Comparator(model, progress=False)
            ),
            VerifiedMethod(
                "duplicates model + GeometricCheck",
                siamesekit.Comparator(model, progress=False),
                args.candidate_recall,
                check_arguments=check_arguments,
            ),
            VerifiedMethod(
                "  the same, sure pairs unchecked",
                siamesekit.Comparator(model, progress=False),
                args.candidate_recall,
                trust_embeddings=True,
                check_arguments=check_arguments,
            ),
            EmbeddingMethod("random VGG16", siamesekit.Comparator(vgg, progress=False)),
            HashMethod("pHash", imagehash.phash, fixed=HASH_THRESHOLD),
            HashMethod("dHash", imagehash.dhash, fixed=HASH_THRESHOLD),
        ]
        train_truth, test_truth = true_pairs(train_items), true_pairs(test_items)
        test_hard = hard_negatives(test_items, originals)
        rows, kinds, sources = [], {}, {}
        for method in methods:
            prepared = method.prepare(train_items)
            threshold = method.choose(prepared, train_truth)
            tested = method.prepare(test_items)
            settings = []
            if getattr(method, "fixed", None) is not None:
                settings.append(("usual", method.fixed))
            settings.append(("chosen", threshold))
            for how, value in settings:
                checking = time.perf_counter()
                found = method.pairs(tested, value)
                summary = method.summary(tested, time.perf_counter() - checking)
                if summary:
                    print(summary)
                precision, recall = precision_recall(found, test_truth)
                rows.append(
                    (
                        method.name,
                        method.describe(value) + f" ({how})",
                        precision,
                        recall,
                        len(found & test_hard),
                    )
                )
                if how == "chosen" or method.name == "duplicates model":
                    kinds[f"{method.name}, {how}"] = per_kind(
                        test_items, found, test_truth
                    )
                if how == "chosen":
                    sources[method.name] = per_source(
                        test_items, originals, found, test_truth
                    )

    print(
        f"\nTest half: {len(test_items)} images, {len(test_truth)} duplicate "
        f"pairs, {len(test_hard)} hard-negative pairs (same person, object or "
        "scene, not a copy)"
    )
    header = ("method", "threshold", "precision", "recall", "hard negatives found")
    widths = (34, 52, 9, 6, 20)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for name, setting, precision, recall, hard in rows:
        print(
            "  ".join(
                (
                    name.ljust(widths[0]),
                    setting.ljust(widths[1]),
                    f"{precision:.3f}".ljust(widths[2]),
                    f"{recall:.3f}".ljust(widths[3]),
                    str(hard),
                )
            )
        )
    print_breakdown("Per copy kind", COPY_KINDS, kinds)
    print_breakdown(
        "Per source of the originals, COIL objects at 32x32", SOURCES, sources
    )
    print(f"\nTotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

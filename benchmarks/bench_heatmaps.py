"""Do the heatmaps point at real edits, and stay quiet about nuisances?

Real photos (scikit-image, scikit-learn) get one edit each: a patch pasted
from another photo, a patch copied from elsewhere in the same photo, a
recoloured square, a blurred square, or a filled ellipse of a nearby colour.
In half the cases a nuisance that is not a difference follows: gain and
offset, sensor noise, JPEG re-encoding, or a shift of 1-3 pixels. Each
heatmap method is scored against the edit mask:

- pixel AUC: ROC AUC of the map's values against the mask, per case;
- pointing: the map's maximum lies inside the mask dilated by 5 pixels;
- top box IoU >= 0.5: the first of `ComparisonResult.regions` overlaps the
  edited square that much (square edits only);
- false regions: pairs of a photo and a nuisance-only copy that get any
  region at all.

`abs pixel diff` and SSIM ("pixels") are the references. The network is a
VGG16 with random weights (no ImageNet weights can be downloaded here).

    python benchmarks/bench_heatmaps.py            # 15 photos x 8 edits, 224 px
    python benchmarks/bench_heatmaps.py --seeds 0 1
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import cv2
import numpy as np

EDITS = ("paste", "copy", "recolour", "blur", "ellipse")
NUISANCES = ("gain", "noise", "jpeg", "shift")
SQUARE_EDITS = ("paste", "copy", "recolour", "blur")
NETWORK_METHODS = ("features", "lpips", "attribution")
_POINTING_MARGIN = 5


@dataclasses.dataclass
class Case:
    photo: str
    edit: str | None
    nuisance: str | None
    original: np.ndarray
    edited: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int] | None


def photos(size: int) -> dict[str, np.ndarray]:
    """Fifteen real photos, centre-cropped square, RGB float32 at `size`."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    names = (
        "astronaut chelsea coffee rocket camera coins moon "
        "immunohistochemistry retina brick grass gravel"
    ).split()
    images = {name: getattr(data, name)() for name in names}
    images["motorcycle"] = data.stereo_motorcycle()[0]
    images["china"], images["flower"] = load_sample_images().images
    result = {}
    for name, image in images.items():
        if image.ndim == 2:
            image = np.repeat(image[:, :, np.newaxis], 3, axis=-1)
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top : top + side, left : left + side]
        resized = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
        result[name] = resized.astype(np.float32)
    return result


def _edit(kind, image, donor, rng, size):
    side = int(rng.integers(size * 24 // 224, size * 48 // 224 + 1))
    y, x = (int(value) for value in rng.integers(0, size - side, 2))
    edited = image.copy()
    mask = np.zeros((size, size), bool)
    mask[y : y + side, x : x + side] = True
    source_y, source_x = (int(value) for value in rng.integers(0, size - side, 2))
    region = np.s_[y : y + side, x : x + side]
    source = np.s_[source_y : source_y + side, source_x : source_x + side]
    if kind == "paste":
        edited[region] = donor[source]
    elif kind == "copy":
        edited[region] = image[source]
    elif kind == "recolour":
        shift = rng.choice([-1.0, 1.0], 3) * rng.uniform(25, 50, 3)
        edited[region] = np.clip(edited[region] + shift, 0, 255)
    elif kind == "blur":
        edited[region] = cv2.GaussianBlur(image, (0, 0), 4)[region]
    else:  # a filled ellipse of a colour near the local mean
        shape = np.zeros((size, size), np.uint8)
        centre, axes = (x + side // 2, y + side // 2), (side // 2, side // 3)
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(shape, centre, axes, angle, 0, 360, 1, -1)
        local = image[region].reshape(-1, 3).mean(axis=0)
        colour = local + rng.choice([-1.0, 1.0], 3) * rng.uniform(30, 50, 3)
        mask = shape > 0
        edited[mask] = np.clip(colour, 0, 255)
        return edited, mask, None
    return edited, mask, (x, y, side, side)


def _nuisance(kind, image, mask, rng, size):
    if kind == "gain":
        image = image * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)
    elif kind == "noise":
        image = image + rng.normal(0, rng.uniform(6, 12), image.shape)
    elif kind == "jpeg":
        quality = int(rng.integers(15, 41))
        encoded = cv2.imencode(
            ".jpg",
            np.round(np.clip(image, 0, 255)).astype(np.uint8),
            [cv2.IMWRITE_JPEG_QUALITY, quality],
        )[1]
        image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).astype(np.float32)
    else:
        dy, dx = rng.integers(1, 4, 2) * rng.choice([-1, 1], 2)
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        image = cv2.warpAffine(
            image, matrix, (size, size), borderMode=cv2.BORDER_REFLECT
        )
        moved = cv2.warpAffine(
            mask.astype(np.uint8), matrix, (size, size), flags=cv2.INTER_NEAREST
        )
        mask = moved > 0
    return np.clip(image, 0, 255).astype(np.float32), mask


def make_cases(size: int = 224, seed: int = 0, per_photo: int = 8) -> list[Case]:
    """Edited pairs (half with a nuisance after the edit), seeded."""
    rng = np.random.default_rng(seed)
    images = photos(size)
    names = list(images)
    cases = []
    for index, name in enumerate(names):
        for step in range(per_photo):
            kind = EDITS[(step + index) % len(EDITS)]
            donor = images[names[(index + 1 + step) % len(names)]]
            edited, mask, box = _edit(kind, images[name], donor, rng, size)
            nuisance = None
            if step % 2 == 1:
                nuisance = NUISANCES[(step // 2 + index) % len(NUISANCES)]
                edited, mask = _nuisance(nuisance, edited, mask, rng, size)
                if nuisance == "shift":
                    box = None  # the box moved with the image
            cases.append(Case(name, kind, nuisance, images[name], edited, mask, box))
    return cases


def make_nuisance_pairs(size: int = 224, seed: int = 0) -> list[Case]:
    """A photo and a copy that only went through one nuisance: no edit."""
    rng = np.random.default_rng(seed + 1000)
    cases = []
    empty = np.zeros((size, size), bool)
    for name, image in photos(size).items():
        for nuisance in NUISANCES:
            copy, _ = _nuisance(nuisance, image, empty, rng, size)
            cases.append(Case(name, None, nuisance, image, copy, empty, None))
    return cases


def _iou(box, region) -> float:
    x, y, width, height = box
    left, top = max(x, region.x), max(y, region.y)
    right = min(x + width, region.x + region.width)
    bottom = min(y + height, region.y + region.height)
    inter = max(0, right - left) * max(0, bottom - top)
    union = width * height + region.width * region.height - inter
    return inter / union


def score(cases, maps, regions=None) -> dict:
    """Pixel AUC, pointing and (with regions) top-box IoU rates."""
    from sklearn.metrics import roc_auc_score

    kernel = np.ones((2 * _POINTING_MARGIN + 1,) * 2, np.uint8)
    auc, pointing, by_nuisance, hits = [], [], {}, []
    for index, (case, heatmap) in enumerate(zip(cases, maps)):
        heatmap = np.nan_to_num(np.asarray(heatmap, np.float64))
        value = roc_auc_score(case.mask.ravel(), heatmap.ravel())
        near = cv2.dilate(case.mask.astype(np.uint8), kernel) > 0
        inside = bool(near.ravel()[np.argmax(heatmap)])
        auc.append(value)
        pointing.append(inside)
        by_nuisance.setdefault(case.nuisance or "none", []).append(value)
        if regions is not None and case.box is not None:
            found = regions[index]
            hits.append(bool(found) and _iou(case.box, found[0]) >= 0.5)
    return {
        "auc": float(np.mean(auc)),
        "pointing": float(np.mean(pointing)),
        "auc_by_nuisance": {k: float(np.mean(v)) for k, v in by_nuisance.items()},
        "top_box": float(np.mean(hits)) if hits else None,
    }


def network_maps(comparator, cases, method):
    results = comparator.compare_many(
        [(case.original, case.edited) for case in cases], method=method
    )
    return [r.heatmap for r in results], [r.regions for r in results]


def reference_maps(cases, method):
    from siamesekit.comparator.heatmaps import pixel_difference_map

    if method == "abs pixel diff":
        return [np.abs(c.original - c.edited).mean(axis=-1) for c in cases]
    return [pixel_difference_map(c.original, c.edited) for c in cases]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--per-photo", type=int, default=8)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="case and weight seeds"
    )
    args = parser.parse_args()

    import keras

    import siamesekit
    from siamesekit.comparator.display_scale import display_scale
    from siamesekit.comparator.regions import find_regions

    for seed in args.seeds:
        keras.utils.set_random_seed(seed)
        tower = siamesekit.EmbeddingTower(
            backbone="vgg16", input_shape=(args.size, args.size, 3), weights=None
        )
        comparator = siamesekit.Comparator(tower, precision="float32", progress=False)
        cases = make_cases(args.size, seed, args.per_photo)
        quiet = make_nuisance_pairs(args.size, seed)
        print(
            f"seed {seed}: {len(cases)} edited pairs ({args.size} px, half with a "
            f"nuisance), {len(quiet)} nuisance-only pairs"
        )
        header = (
            f"{'method':16} {'pixel AUC':>9} {'pointing':>8} {'top box':>7} "
            f"{'false regions':>13} | AUC by nuisance "
            + " ".join(f"{name:>6}" for name in ("none",) + NUISANCES)
        )
        print(header)
        for method in NETWORK_METHODS + ("pixels", "abs pixel diff"):
            started = time.perf_counter()
            if method in NETWORK_METHODS:
                maps, regions = network_maps(comparator, cases, method)
                _, quiet_regions = network_maps(comparator, quiet, method)
            else:
                maps = reference_maps(cases, method)
                regions = quiet_regions = None
                if method == "pixels":
                    scale = display_scale("pixels")
                    regions = [find_regions(m, scale) for m in maps]
                    quiet_regions = [
                        find_regions(m, scale) for m in reference_maps(quiet, method)
                    ]
            seconds = time.perf_counter() - started
            result = score(cases, maps, regions)
            false = "-"
            if quiet_regions is not None:
                false = f"{np.mean([bool(r) for r in quiet_regions]):.2f}"
            top = "-" if result["top_box"] is None else f"{result['top_box']:.2f}"
            by = result["auc_by_nuisance"]
            print(
                f"{method:16} {result['auc']:9.3f} {result['pointing']:8.3f} "
                f"{top:>7} {false:>13} | {'':15} "
                + " ".join(f"{by.get(n, np.nan):6.3f}" for n in ("none",) + NUISANCES)
                + f"   ({seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()

"""Speed of the Comparator against the raw tower and a naive compare.

Measures in one run, on the same images and the same VGG16 tower (random
weights: speed does not depend on them), at 224x224:

- raw: batched forward rate of the tower alone (`predict_on_batch` on a
  preloaded batch), in float32 and in the auto precision;
- comparator: `Comparator.compare_many` from image files to scores and the
  default "features" heatmap, float32 and auto precision; its second image
  of each pair goes through the backbone twice (once as it is for the
  scores, once with image 1's exposure for the map), so 4 pairs cost 12
  passes instead of 8 and 0.67x the raw rate is its ceiling;
- comparator lpips: the same with the "lpips" map, which shares the scores'
  pass, in auto precision;
- naive: what the original README's code would do per pair: decode, two
  `model.predict` calls, and a separate feature-extractor pass for the
  heatmap, in float32.

Rounds are interleaved so that load from other processes hits every method
alike; the best round of each is reported. Run:

    .venv/bin/python benchmarks/bench_comparator.py [--pairs 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402

import siamesekit  # noqa: E402

SIZE = 224


def write_images(folder: str, count: int) -> list[str]:
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    paths = []
    for index in range(count):
        photo = photos[index % len(photos)]
        # Distinct images: shift each copy so that no two are equal.
        shifted = np.roll(photo, 7 * index, axis=1)
        path = os.path.join(folder, f"image_{index}.png")
        cv2.imwrite(path, cv2.cvtColor(shifted, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def naive_compare(model, extractor, first: str, second: str):
    """Decode, two predict calls, a separate heatmap pass (the seed's way)."""
    images = []
    for path in (first, second):
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        images.append(cv2.resize(image, (SIZE, SIZE)).astype("float32"))
    embedding_a = model.predict(images[0][None], verbose=0)[0]
    embedding_b = model.predict(images[1][None], verbose=0)[0]
    similarity = float(
        embedding_a
        @ embedding_b
        / (np.linalg.norm(embedding_a) * np.linalg.norm(embedding_b))
    )
    stages = extractor.predict(np.stack(images), verbose=0)
    heatmap = np.zeros((SIZE, SIZE), np.float32)
    for stage in stages:
        unit = stage / (np.linalg.norm(stage, axis=-1, keepdims=True) + 1e-10)
        distance = np.sum((unit[0] - unit[1]) ** 2, axis=-1) / 4.0
        heatmap += cv2.resize(distance, (SIZE, SIZE)) / len(stages)
    return similarity, heatmap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    tower = siamesekit.EmbeddingTower(
        backbone="vgg16", input_shape=(SIZE, SIZE, 3), weights=None
    )
    tower.build((None, SIZE, SIZE, 3))
    comparators = {
        "float32": siamesekit.Comparator(tower, precision="float32", progress=False),
        "auto": siamesekit.Comparator(tower, precision="auto", progress=False),
    }
    auto_policy = comparators["auto"].precision
    print(f"VGG16 {SIZE}x{SIZE}, auto precision = {auto_policy}")

    def as_model(layer):
        inputs = keras.Input((SIZE, SIZE, 3))
        return keras.Model(inputs, layer(inputs))

    raw_models = {name: as_model(c.tower) for name, c in comparators.items()}
    backbone = tower.backbone
    extractor = keras.Model(
        backbone.inputs,
        [backbone.get_layer(n).output for n in tower.spec.feature_layers],
    )

    with tempfile.TemporaryDirectory() as folder:
        paths = write_images(folder, 2 * args.pairs)
        pairs = list(zip(paths[0::2], paths[1::2]))
        batch = np.stack(
            [siamesekit.load_image(p, size=(SIZE, SIZE), channels=3) for p in paths]
        )
        images = len(batch)

        tasks = {
            "raw float32": lambda: raw_models["float32"].predict_on_batch(batch),
            "raw auto": lambda: raw_models["auto"].predict_on_batch(batch),
            "comparator float32": lambda: comparators["float32"].compare_many(pairs),
            "comparator auto": lambda: comparators["auto"].compare_many(pairs),
            "comparator lpips auto": lambda: comparators["auto"].compare_many(
                pairs, method="lpips"
            ),
            "naive float32": lambda: [
                naive_compare(raw_models["float32"], extractor, a, b) for a, b in pairs
            ],
        }
        for task in tasks.values():  # trace and warm up
            task()
        best = {name: float("inf") for name in tasks}
        for _ in range(args.rounds):
            for name, task in tasks.items():
                start = time.perf_counter()
                task()
                best[name] = min(best[name], time.perf_counter() - start)

    rate = {name: images / seconds for name, seconds in best.items()}
    print(f"{len(pairs)} pairs = {images} images per run, best of {args.rounds}")
    for name, images_per_second in rate.items():
        print(f"  {name:20s} {images_per_second:7.2f} images/s")
    print("ratios (goal):")
    print(
        "  comparator auto / raw auto            "
        f"{rate['comparator auto'] / rate['raw auto']:.2f}x (>= 0.6; 0.67 at most)"
    )
    print(
        "  comparator float32 / raw float32      "
        f"{rate['comparator float32'] / rate['raw float32']:.2f}x (>= 0.6)"
    )
    print(
        "  comparator lpips auto / raw auto      "
        f"{rate['comparator lpips auto'] / rate['raw auto']:.2f}x (>= 0.9)"
    )
    print(
        "  comparator auto / naive float32       "
        f"{rate['comparator auto'] / rate['naive float32']:.2f}x (>= 5)"
    )
    print(
        "  comparator float32 / naive float32    "
        f"{rate['comparator float32'] / rate['naive float32']:.2f}x"
    )
    print(
        "  comparator auto / comparator float32  "
        f"{rate['comparator auto'] / rate['comparator float32']:.2f}x (>= 1.8)"
    )
    speedup = rate["raw auto"] / rate["raw float32"]
    print(f"  raw auto / raw float32                {speedup:.2f}x")


if __name__ == "__main__":
    main()

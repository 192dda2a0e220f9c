"""Where does an edited copy of a photo differ? The README's Compare figure.

Pastes a 40x40 patch of another photo into scikit-image's astronaut and
saves the copy as a JPEG of quality 40 (an edit, then a nuisance that is not
one), compares the two with a VGG16 of random weights (seeded; no ImageNet
weights are needed) and writes the figure with the "features" map and its
regions.

    python examples/compare_edited_photo.py --out docs/compare_astronaut.png

The two photos are written beside the figure (`astronaut.png`,
`astronaut_edited.jpg`), so the same comparison runs from the command line:

    siamesekit compare docs/astronaut.png docs/astronaut_edited.jpg \
        --weights none --out difference.png
"""

from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

SIZE = 224
PATCH = np.s_[60:100, 120:160]


def write_photos(folder: str) -> tuple[str, str]:
    """The astronaut and its edited, re-encoded copy, as files in `folder`."""
    from skimage import data

    def square(photo):
        return cv2.resize(photo, (SIZE, SIZE), interpolation=cv2.INTER_AREA)

    original = square(data.astronaut())
    edited = original.copy()
    edited[PATCH] = square(data.coffee())[PATCH]
    first = os.path.join(folder, "astronaut.png")
    second = os.path.join(folder, "astronaut_edited.jpg")
    cv2.imwrite(first, cv2.cvtColor(original, cv2.COLOR_RGB2BGR))
    cv2.imwrite(
        second,
        cv2.cvtColor(edited, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, 40],
    )
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        default="compare_astronaut.png",
        help="figure to write; it is replaced if it exists (default: "
        "compare_astronaut.png)",
    )
    parser.add_argument("--method", default="features")
    parser.add_argument("--seed", type=int, default=0, help="random weights seed")
    args = parser.parse_args()

    import keras

    import siamesekit

    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    first, second = write_photos(folder)
    keras.utils.set_random_seed(args.seed)
    tower = siamesekit.EmbeddingTower(
        backbone="vgg16", input_shape=(SIZE, SIZE, 3), weights=None
    )
    comparator = siamesekit.Comparator(tower, precision="float32")
    result = comparator.compare(first, second, method=args.method)
    result.save_figure(args.out)
    print(f"similarity {result.similarity:.4f}, distance {result.distance:.4f}")
    for number, region in enumerate(result.regions, start=1):
        print(f"region {number}: {region}")
    y, x = PATCH
    print(f"the patch: x={x.start} y={y.start} width=40 height=40")
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()

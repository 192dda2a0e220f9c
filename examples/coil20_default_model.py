"""The default `create_siamese_model` on COIL-20 pairs: unseen objects 15-20.

The protocol of the "defaults that learn" check: 3,000 balanced random pairs
of objects 1-14, `fit` with batch 64 for 4 epochs, then ROC AUC and EER on
all pairs of objects 15-20. Options of `create_siamese_model` can be set to
compare settings, for example the former defaults:

    python examples/coil20_default_model.py --set normalize=false \\
        --set standardize=false --set learning_rate=1e-4

`--frozen-vgg16` trains only the head of a frozen VGG16 (random weights: a
stand-in for a frozen pretrained tower where ImageNet weights cannot be
downloaded), with the defaults of a pretrained tower (no standardization),
on the images repeated to three channels.

Usage:
    [KERAS_BACKEND=jax] python examples/coil20_default_model.py [--seed 0]
        [--frozen-vgg16] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import ast
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from coil20_data import DEFAULT_DATA, load_coil20  # noqa: E402

import siamesekit  # noqa: E402
from siamesekit.data.identities import group_identities  # noqa: E402
from siamesekit.data.pairs import sample_pairs  # noqa: E402
from siamesekit.evaluation import evaluate_verification  # noqa: E402


def option(text):
    name, _, value = text.partition("=")
    if not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    literal = {"true": "True", "false": "False", "none": "None"}.get(value, value)
    try:
        return name, ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return name, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frozen-vgg16", action="store_true")
    parser.add_argument("--set", type=option, action="append", default=[])
    args = parser.parse_args()

    images, objects = load_coil20(args.data)
    options = {"backbone": "small_cnn", "weights": None}
    if args.frozen_vgg16:
        images = np.repeat(images, 3, axis=-1)
        # What a tower with pretrained weights gets by default.
        options.update(backbone="vgg16", trainable_backbone_layers=0, standardize=False)
    options.update(args.set)
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train = objects <= 14
    # The balanced pairs `pair_dataset` draws, here as arrays for `fit`.
    first, second, labels = sample_pairs(group_identities(objects[train]), 3000, rng)
    pairs = (images[train][first], images[train][second])
    model = siamesekit.create_siamese_model(images.shape[1:], **options)
    started = time.perf_counter()
    model.fit(pairs, labels, batch_size=64, epochs=4, verbose=0)
    seconds = time.perf_counter() - started
    result = evaluate_verification(model, images[~train], objects[~train])
    print(
        f"{keras.backend.backend()}, {options}, seed {args.seed}: trained in "
        f"{seconds:.0f} s; objects 15-20: {result.summary()}"
    )


if __name__ == "__main__":
    main()

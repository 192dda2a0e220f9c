"""Figures of a verification result: ROC curve, distances, example pairs.

Figures are built with `matplotlib.figure.Figure` (no pyplot), so they work
without a display and never touch the user's global matplotlib state.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from siamesekit.evaluation.metrics import VerificationResult


def plot_roc(result: VerificationResult) -> Figure:
    """The ROC curve with its AUC and the equal-error-rate point."""
    false_accept, true_accept, _ = roc_curve(result.labels, -result.distances)
    figure = Figure(figsize=(4.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(false_accept, true_accept, label=f"ROC, AUC = {result.auc:.3f}")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.plot(
        [result.eer], [1 - result.eer], "o", color="C3", label=f"EER = {result.eer:.3f}"
    )
    axes.set_xlabel("false accept rate (different called same)")
    axes.set_ylabel("true accept rate (same called same)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.legend(loc="lower right")
    axes.set_title(f"Verification ROC ({result.num_pairs} pairs)")
    return figure


def plot_distance_histograms(result: VerificationResult) -> Figure:
    """Histograms of same-identity and different-identity distances."""
    figure = Figure(figsize=(6, 3.5), layout="constrained")
    axes = figure.add_subplot()
    bins = np.linspace(result.distances.min(), result.distances.max(), 50)
    positive = result.distances[result.labels == 1]
    negative = result.distances[result.labels == 0]
    axes.hist(
        negative, bins=bins, density=True, alpha=0.6, label="different", color="C1"
    )
    axes.hist(positive, bins=bins, density=True, alpha=0.6, label="same", color="C0")
    axes.axvline(
        result.threshold,
        color="black",
        linestyle="--",
        label=f"threshold {result.threshold:.3f}",
    )
    axes.set_xlabel("distance between embeddings")
    axes.set_ylabel("density")
    axes.legend()
    return figure


def plot_example_pairs(
    result: VerificationResult, images, *, num_pairs: int = 8
) -> Figure:
    """A grid of pairs with their distance and the decision at the threshold.

    Shows the hardest pairs: the farthest same-identity pairs and the closest
    different-identity pairs, half each. A title in red marks a wrong
    decision.

    Args:
        result: a `VerificationResult` that kept its pair indices.
        images: the images the result was computed on.
        num_pairs: int, how many pairs to show. Defaults to `8`.

    Returns:
        A matplotlib `Figure`.
    """
    images = np.asarray(images)
    positive = np.flatnonzero(result.labels == 1)
    negative = np.flatnonzero(result.labels == 0)
    hardest_positive = positive[np.argsort(-result.distances[positive])]
    hardest_negative = negative[np.argsort(result.distances[negative])]
    half = num_pairs // 2
    chosen = np.concatenate(
        [hardest_positive[: num_pairs - half], hardest_negative[:half]]
    )
    figure = Figure(figsize=(2.0 * len(chosen), 4.4), layout="constrained")
    grid = figure.subplots(2, max(len(chosen), 1), squeeze=False)
    for column, pair in enumerate(chosen):
        distance = result.distances[pair]
        same = result.labels[pair] == 1
        correct = (distance < result.threshold) == same
        for row, index in enumerate((result.first[pair], result.second[pair])):
            axes = grid[row, column]
            image = images[index].astype(np.float32) / 255.0
            if image.shape[-1] == 1:
                axes.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                axes.imshow(np.clip(image, 0, 1))
            axes.set_xticks([])
            axes.set_yticks([])
        grid[0, column].set_title(
            f"{'same' if same else 'different'}\nd = {distance:.3f}",
            color="black" if correct else "red",
            fontsize=9,
        )
    figure.suptitle("Hardest pairs (red: wrong at the threshold)")
    return figure


def save_verification_plots(
    result: VerificationResult, images, directory, *, prefix: str = ""
) -> list[str]:
    """Writes the ROC curve, distance histograms and example pairs as PNGs.

    Args:
        result: a `VerificationResult`.
        images: the images it was computed on (for the example pairs).
        directory: folder to write into; created if missing.
        prefix: string put before each file name. Defaults to `""`.

    Returns:
        The paths written: `roc.png`, `distances.png` and `pairs.png`.
    """
    os.makedirs(directory, exist_ok=True)
    figures = {
        "roc.png": plot_roc(result),
        "distances.png": plot_distance_histograms(result),
    }
    if len(result.first):
        figures["pairs.png"] = plot_example_pairs(result, images)
    paths = []
    for name, figure in figures.items():
        path = os.path.join(directory, prefix + name)
        figure.savefig(path, dpi=100)
        paths.append(path)
    return paths

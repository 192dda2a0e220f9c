"""Verification metrics and plots on identities the model never saw."""

from siamesekit.evaluation.metrics import (
    VerificationResult,
    embed_images,
    evaluate_verification,
    verification_metrics,
)
from siamesekit.evaluation.plots import (
    plot_distance_histograms,
    plot_example_pairs,
    plot_roc,
    save_verification_plots,
)

__all__ = [
    "VerificationResult",
    "embed_images",
    "evaluate_verification",
    "plot_distance_histograms",
    "plot_example_pairs",
    "plot_roc",
    "save_verification_plots",
    "verification_metrics",
]

"""Verification and retrieval metrics, and plots, on identities the model
never saw."""

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
from siamesekit.evaluation.retrieval import RetrievalResult, retrieval_metrics

__all__ = [
    "RetrievalResult",
    "VerificationResult",
    "embed_images",
    "evaluate_verification",
    "plot_distance_histograms",
    "plot_example_pairs",
    "plot_roc",
    "retrieval_metrics",
    "save_verification_plots",
    "verification_metrics",
]

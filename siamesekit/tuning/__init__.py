"""Hyperparameter tuning of Siamese models with keras-tuner."""

from siamesekit.tuning.hypermodel import (
    DEFAULT_SEARCH_SPACE,
    PRETRAINED_SEARCH_SPACE,
    SiameseHyperModel,
)
from siamesekit.tuning.objectives import METRIC_DIRECTIONS, objective

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "METRIC_DIRECTIONS",
    "PRETRAINED_SEARCH_SPACE",
    "SiameseHyperModel",
    "objective",
]

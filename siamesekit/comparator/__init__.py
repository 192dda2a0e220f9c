"""Inference: scores, difference heatmaps and their rendering."""

from siamesekit.comparator.comparator import Comparator
from siamesekit.comparator.result import ComparisonResult

__all__ = ["Comparator", "ComparisonResult"]

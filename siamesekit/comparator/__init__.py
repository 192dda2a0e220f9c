"""Inference: scores, difference heatmaps, their regions and rendering."""

from siamesekit.comparator.comparator import Comparator
from siamesekit.comparator.display_scale import DisplayScale
from siamesekit.comparator.regions import Region
from siamesekit.comparator.result import ComparisonResult

__all__ = ["Comparator", "ComparisonResult", "DisplayScale", "Region"]

"""The public API, imported by `siamesekit/__init__.py`."""

from siamesekit import (
    data,
    errors,
    evaluation,
    losses,
    metrics,
    search,
    training,
    tuning,
)
from siamesekit.comparator import Comparator, ComparisonResult
from siamesekit.compare import compare_images
from siamesekit.data import load_image
from siamesekit.distances import cosine_similarity, euclidean_distance
from siamesekit.layers import EmbeddingTower
from siamesekit.losses import ContrastiveLoss, contrastive_loss
from siamesekit.metrics import PairAccuracy
from siamesekit.models import SiameseModel, create_siamese_model
from siamesekit.search import Index, find_duplicates
from siamesekit.tuning import SiameseHyperModel
from siamesekit.version import __version__

__all__ = [
    "Comparator",
    "ComparisonResult",
    "ContrastiveLoss",
    "EmbeddingTower",
    "Index",
    "PairAccuracy",
    "SiameseHyperModel",
    "SiameseModel",
    "__version__",
    "compare_images",
    "contrastive_loss",
    "cosine_similarity",
    "create_siamese_model",
    "data",
    "errors",
    "evaluation",
    "find_duplicates",
    "euclidean_distance",
    "load_image",
    "losses",
    "metrics",
    "search",
    "training",
    "tuning",
]

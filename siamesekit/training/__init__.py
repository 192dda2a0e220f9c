"""Training helpers: in-batch pair training and safety callbacks."""

from siamesekit.training.callbacks import StopOnNaN
from siamesekit.training.in_batch_pair_model import InBatchPairModel

__all__ = ["InBatchPairModel", "StopOnNaN"]

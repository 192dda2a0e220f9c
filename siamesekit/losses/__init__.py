from siamesekit.losses.contrastive import ContrastiveLoss, contrastive_loss
from siamesekit.losses.in_batch_contrastive import (
    InBatchContrastiveLoss,
    in_batch_contrastive_loss,
)

__all__ = [
    "ContrastiveLoss",
    "InBatchContrastiveLoss",
    "contrastive_loss",
    "in_batch_contrastive_loss",
]

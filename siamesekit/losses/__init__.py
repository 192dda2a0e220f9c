from siamesekit.losses.batch_hard_triplet import (
    BatchHardTripletLoss,
    batch_hard_triplet_loss,
)
from siamesekit.losses.contrastive import ContrastiveLoss, contrastive_loss
from siamesekit.losses.in_batch import InBatchLoss
from siamesekit.losses.in_batch_contrastive import (
    InBatchContrastiveLoss,
    in_batch_contrastive_loss,
)
from siamesekit.losses.nt_xent import NTXentLoss, nt_xent_loss

__all__ = [
    "BatchHardTripletLoss",
    "ContrastiveLoss",
    "InBatchContrastiveLoss",
    "InBatchLoss",
    "NTXentLoss",
    "batch_hard_triplet_loss",
    "contrastive_loss",
    "in_batch_contrastive_loss",
    "nt_xent_loss",
]

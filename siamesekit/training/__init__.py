"""Training: the verification and duplicates recipes, and safety callbacks.

`SiameseModel` itself trains on pair and identity batches; this package holds
the tested recipes around it.
"""

from siamesekit.training.callbacks import (
    StopOnNaN,
    TrainingBackup,
    check_backup_dir,
    remove_backup,
)
from siamesekit.training.distribution import (
    DataParallel,
    initialize_processes,
    process_count,
    process_index,
)
from siamesekit.training.duplicates import DUPLICATES_CONFIG, train_duplicates_model
from siamesekit.training.recipe import TrainingConfig, train_verification_model

__all__ = [
    "DUPLICATES_CONFIG",
    "DataParallel",
    "StopOnNaN",
    "TrainingBackup",
    "TrainingConfig",
    "check_backup_dir",
    "initialize_processes",
    "process_count",
    "process_index",
    "remove_backup",
    "train_duplicates_model",
    "train_verification_model",
]

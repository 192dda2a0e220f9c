"""Training: the recipe for verification models, and safety callbacks.

`SiameseModel` itself trains on pair and identity batches; this package holds
the tested recipe around it.
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
from siamesekit.training.recipe import TrainingConfig, train_verification_model

__all__ = [
    "DataParallel",
    "StopOnNaN",
    "TrainingBackup",
    "TrainingConfig",
    "check_backup_dir",
    "initialize_processes",
    "process_count",
    "process_index",
    "remove_backup",
    "train_verification_model",
]

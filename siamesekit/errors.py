"""Typed errors raised by siamesekit.

Every error names the input that was wrong and says what to do about it. They
subclass the built-in exception a Python user would expect (`ValueError` for a
bad argument or bad data, `OSError` for files and downloads), so existing
`except ValueError:` code keeps working.
"""


class SiamesekitError(Exception):
    """Base class of every error siamesekit raises on purpose."""


class InvalidArgumentError(SiamesekitError, ValueError):
    """An argument has a value siamesekit cannot use."""


class WeightsUnavailableError(SiamesekitError, OSError):
    """Pretrained weights could not be downloaded or read."""


class ImageError(SiamesekitError, ValueError):
    """An image could not be used: unreadable, corrupt, wrong shape or values."""


class ImageNotFoundError(SiamesekitError, FileNotFoundError):
    """An image path does not exist or is not a file."""


class DatasetError(SiamesekitError, ValueError):
    """A dataset cannot produce the pairs asked of it."""


class ModelFileExistsError(SiamesekitError, FileExistsError):
    """Refused to overwrite an existing model file."""


class TrainingDivergedError(SiamesekitError, RuntimeError):
    """The training loss became NaN or infinite."""


class SearchSpaceError(InvalidArgumentError):
    """A hyperparameter search space cannot be built or used as given."""


class ModelFileError(SiamesekitError, OSError):
    """A saved model file is missing or cannot be loaded."""


class TrainingBackupError(SiamesekitError, OSError):
    """A training backup folder cannot be used: not a folder, unreadable, or
    written by a run with other settings."""


class IndexFileError(SiamesekitError, OSError):
    """A saved search index is missing, truncated, corrupt or not an index."""


class OutputExistsError(SiamesekitError, FileExistsError):
    """Refused to overwrite an existing output file (an index, a report)."""


class ModelMismatchError(InvalidArgumentError):
    """Embeddings from one model were about to be compared with another's."""


class DistributionError(SiamesekitError, RuntimeError):
    """Data-parallel training cannot run as asked on this backend or cluster."""

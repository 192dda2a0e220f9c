"""Reading images and building datasets of pairs."""

from siamesekit.data.augmentation import Augmentation
from siamesekit.data.copy_augmentation import CopyAugmentation
from siamesekit.data.face_alignment import AlignedFaces, align_faces
from siamesekit.data.identity_batches import identity_batch_dataset
from siamesekit.data.image_folder import (
    DecodedImages,
    LabelledImages,
    list_image_files,
    list_image_folder,
    load_image_folder,
    load_images,
)
from siamesekit.data.images import load_image
from siamesekit.data.pairs import pair_dataset, pair_dataset_from_directory
from siamesekit.data.splits import IdentitySplit, split_by_identity

__all__ = [
    "AlignedFaces",
    "Augmentation",
    "CopyAugmentation",
    "DecodedImages",
    "IdentitySplit",
    "LabelledImages",
    "align_faces",
    "identity_batch_dataset",
    "list_image_files",
    "list_image_folder",
    "load_image",
    "load_image_folder",
    "load_images",
    "pair_dataset",
    "pair_dataset_from_directory",
    "split_by_identity",
]

"""Reading images and building datasets of pairs."""

from siamesekit.data.images import load_image

__all__ = ["load_image"]

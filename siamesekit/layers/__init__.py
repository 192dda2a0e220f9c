from siamesekit.layers.backbones import BACKBONES, BackboneSpec, get_backbone_spec
from siamesekit.layers.embedding_tower import EmbeddingTower
from siamesekit.layers.whitening import EmbeddingWhitening

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "EmbeddingTower",
    "EmbeddingWhitening",
    "get_backbone_spec",
]

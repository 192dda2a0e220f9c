from siamesekit.layers.backbones import BACKBONES, BackboneSpec, get_backbone_spec
from siamesekit.layers.embedding_tower import EmbeddingTower

__all__ = ["BACKBONES", "BackboneSpec", "EmbeddingTower", "get_backbone_spec"]

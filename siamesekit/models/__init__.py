from siamesekit.models.factory import create_siamese_model
from siamesekit.models.siamese_model import SiameseModel

__all__ = ["SiameseModel", "create_siamese_model"]

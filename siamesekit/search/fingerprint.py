"""A fingerprint of the model that made a set of embeddings.

Embeddings from two models live in different spaces: a query embedded by one
model and searched among another's embeddings gets meaningless neighbours,
with no error. An index therefore keeps the fingerprint of its model and
refuses queries from any other.
"""

from __future__ import annotations

import hashlib
import json

from keras import ops

from siamesekit.models.siamese_model import SiameseModel


def model_fingerprint(comparator) -> str:
    """A hex digest of a comparator's tower: its configuration and weights.

    Two towers get the same fingerprint when they have the same architecture
    and the same weights, whatever their layer names, so a model saved and
    loaded again keeps its fingerprint. The numeric precision the comparator
    runs in is not part of it: it changes embeddings by rounding only.

    Args:
        comparator: a `siamesekit.Comparator`.
    """
    tower = comparator.model
    if isinstance(tower, SiameseModel):
        tower = tower.tower
    config = dict(tower.get_config())
    config.pop("name", None)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(type(tower).__name__.encode())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    digest.update(repr(tuple(comparator.image_shape)).encode())
    for weight in tower.weights:
        array = ops.convert_to_numpy(weight.value)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()

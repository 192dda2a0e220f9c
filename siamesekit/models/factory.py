"""`create_siamese_model`: the one-liner of the original README."""

from __future__ import annotations

import keras

from siamesekit.layers.embedding_tower import EmbeddingTower
from siamesekit.losses.contrastive import ContrastiveLoss
from siamesekit.models.siamese_model import SiameseModel


def create_siamese_model(
    input_shape: tuple[int, int, int] = (224, 224, 3),
    *,
    margin: float = 1.0,
    learning_rate: float = 1e-3,
    threshold: float | None = None,
    **tower_options,
) -> SiameseModel:
    """Returns a built, compiled `SiameseModel` for images of `input_shape`.

    Args:
        input_shape: `(height, width, channels)` of the images, 1 or 3
            channels. Defaults to `(224, 224, 3)`.
        margin: margin of the `ContrastiveLoss`. Defaults to `1.0`.
        learning_rate: Adam learning rate. Defaults to `1e-3`, the usual Adam
            rate; it trains the head of a frozen pretrained tower and a
            `small_cnn` from scratch alike.
        threshold: distance below which pairs are called similar. Defaults to
            `None`, which means `margin / 2`.
        **tower_options: passed to `siamesekit.EmbeddingTower`: `backbone`
            (default `"vgg16"`), `weights` (default `"imagenet"`), `pooling`,
            `dense_units`, `embedding_dim`, `normalize`, `standardize`,
            `dropout`, `trainable_backbone_layers`, ...

    Returns:
        A `siamesekit.SiameseModel` compiled with Adam and `ContrastiveLoss`.

    Example:

    ```python
    model = siamesekit.create_siamese_model(
        (64, 64, 1), backbone="small_cnn", weights=None
    )
    ```
    """
    tower = EmbeddingTower(input_shape=input_shape, **tower_options)
    model = SiameseModel(tower, threshold=threshold)
    batch_shape = (None,) + tuple(tower.image_shape)
    model.build((batch_shape, batch_shape))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=ContrastiveLoss(margin=margin),
    )
    return model

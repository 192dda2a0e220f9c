"""The compiled network functions behind the Comparator's heatmaps."""

from __future__ import annotations

from typing import Callable

import keras
from keras import ops

from siamesekit.comparator import heatmaps
from siamesekit.compiled import compile_inference


def build_map_functions(tower, size: tuple[int, int]) -> dict[str, Callable]:
    """One compiled function per network heatmap method of an EmbeddingTower.

    - `"features"(images, index_a, index_b) -> (embeddings, maps)`: the
      embeddings of the distinct `images` and the "features" map of each pair
      `(images[index_a[i]], images[index_b[i]])`; image 2 of each pair gets a
      second backbone pass with image 1's exposure.
    - `"lpips"(images, index_a, index_b) -> (embeddings, maps)`: the same with
      the plain map, from the embeddings' own pass.
    - `"attribution"(images) -> (embeddings, last_feature_maps)`, for
      `siamesekit.comparator.attribution`.

    Args:
        tower: a built `siamesekit.EmbeddingTower`.
        size: `(height, width)` of the maps.
    """
    backbone = tower.backbone
    # One model gives the stages of the "features" map and the last
    # feature map the head embeds, so scores and heatmap share a pass.
    extractor = keras.Model(
        backbone.inputs,
        [backbone.get_layer(name).output for name in tower.spec.feature_layers]
        + [backbone.output],
        name="feature_extractor",
    )

    def stages_and_embeddings(images):
        outputs = extractor(tower.preprocess(images), training=False)
        stages, last = outputs[:-1], outputs[-1]
        if tower.num_test_time_views > 1:
            # The tower averages its views itself; the map shows the
            # images as they are.
            embeddings = ops.cast(tower(images, training=False), "float32")
        else:
            embeddings = ops.cast(tower.head(last, training=False), "float32")
        return stages, embeddings

    def features(images, index_a, index_b):
        stages, embeddings = stages_and_embeddings(images)
        # Image 2 of each pair, with image 1's exposure, gets its own pass.
        matched = heatmaps.match_photometry(
            ops.take(images, index_b, axis=0), ops.take(images, index_a, axis=0)
        )
        matched_stages = extractor(tower.preprocess(matched), training=False)
        maps = heatmaps.difference_map(
            [ops.take(stage, index_a, axis=0) for stage in stages],
            matched_stages[:-1],
            size,
        )
        return embeddings, maps

    def lpips(images, index_a, index_b):
        stages, embeddings = stages_and_embeddings(images)
        maps = heatmaps.feature_distance_map(
            [ops.take(stage, index_a, axis=0) for stage in stages],
            [ops.take(stage, index_b, axis=0) for stage in stages],
            size,
        )
        return embeddings, maps

    def attribution(images):
        last = extractor(tower.preprocess(images), training=False)[-1]
        embeddings = ops.cast(tower.head(last, training=False), "float32")
        return embeddings, ops.cast(last, "float32")

    return {
        "features": compile_inference(features, tower.variables),
        "lpips": compile_inference(lpips, tower.variables),
        "attribution": compile_inference(attribution, tower.variables),
    }

"""Maps of where two images differ, each on a fixed, documented scale.

- `difference_map` ("features", the default): where the backbone's features
  of the two images differ, made robust to what is not a difference.
  Image 2 first gets the per-channel gain and offset that match its mean and
  spread to image 1 (exposure, white balance). At each backbone stage, each
  position is compared with the best-matching position of the other image
  within `SHIFT_TOLERANCE` input pixels, in both directions, the larger
  distance kept (a shifted copy matches; a pasted patch has no match in
  either). Distances are `(1 - cos) / 2` of channel-normalized features as in
  LPIPS. The stage maps, resized to the image, are combined by a geometric
  mean (a difference must be seen at every scale: sensor noise and JPEG
  blocks stir the shallow stages, not the deep ones), faded out over a band
  of `min(height, width) / 28` pixels at the border (where zero padding and
  content shifted in or out of the frame light up any copy), and smoothed
  with a Gaussian of `min(height, width) / 40` pixels. Scale [0, 1]: 0 where the
  features agree, 0.5 where they are orthogonal.
- `feature_distance_map` ("lpips"): plain LPIPS-style map, the mean over
  stages of `(1 - cos) / 2` at the same position, without the above.
- "attribution" (`siamesekit.comparator.attribution`): each position's
  exact share of the dissimilarity `1 - cos` of the two embeddings.
- `pixel_difference_map` ("pixels"): `(1 - SSIM) / 2` per pixel, no network.
  Scale [0, 1] as for "features".

Maps are never min-max stretched per image: two identical images give an
all-zero "features", "lpips", "attribution" and "pixels" map. Measured on
photos with pasted and altered regions (`benchmarks/bench_heatmaps.py`), the
"features" map localizes edits better than the others, most of all when a
nuisance (gain, noise, JPEG, a shift of 1-3 pixels) follows the edit.

References:
    Zhang, Isola, Efros, Shechtman, Wang, "The Unreasonable Effectiveness of
    Deep Features as a Perceptual Metric", CVPR 2018.
    Stylianou, Souvenir, Pless, "Visualizing Deep Similarity Networks",
    WACV 2019.
    Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP 2004.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops
from skimage.metrics import structural_similarity

from siamesekit.errors import InvalidArgumentError

METHODS = ("features", "lpips", "attribution", "pixels")

# As in LPIPS: keeps all-zero feature vectors (dead ReLU positions) finite.
_NORM_EPSILON = 1e-10


def check_method(method):
    if method not in METHODS:
        raise InvalidArgumentError(
            f"`method` must be one of {METHODS}. Received: method={method!r}"
        )
    return method


# Below the rounding error of the expanded distance (terms of at most 1).
_ROUNDING_FLOOR = 1e-6

# A feature that moved by at most this many input pixels still matches.
SHIFT_TOLERANCE = 3
# The gain `match_photometry` applies stays within [1 / 2, 2].
_MAX_GAIN = 2.0
# Keeps the geometric mean of stage maps defined where a stage map is 0.
_GEOMETRIC_EPSILON = 1e-4
# Gaussian smoothing of the "features" map: sigma = min(height, width) / 40.
_SMOOTHING_DIVISOR = 40.0
# The "features" map is weighted down over a band of min(height, width) / 28
# pixels at the image border (8 at 224 x 224): 1/8 on the border row, 1 inside.
_BORDER_DIVISOR = 28.0


def match_photometry(images, references):
    """Gives each image the per-channel mean and spread of its reference.

    `gain * image + offset` per channel, with the gain limited to [1/2, 2]
    and 1 for a flat channel. An image equal to its reference is returned
    unchanged bit for bit (gain exactly 1, offset exactly 0).

    Args:
        images: float tensor `(n, height, width, channels)`, 0-255.
        references: a float tensor of the same shape.
    """
    images = ops.cast(images, "float32")
    references = ops.cast(references, "float32")
    mean = ops.mean(images, axis=(1, 2), keepdims=True)
    spread = ops.std(images, axis=(1, 2), keepdims=True)
    reference_mean = ops.mean(references, axis=(1, 2), keepdims=True)
    reference_spread = ops.std(references, axis=(1, 2), keepdims=True)
    flat = spread < 1e-3
    gain = reference_spread / ops.where(flat, 1.0, spread)
    gain = ops.where(flat, 1.0, ops.clip(gain, 1.0 / _MAX_GAIN, _MAX_GAIN))
    offset = reference_mean - gain * mean
    return gain * images + offset


def _repeat_edges(values, radius):
    """Pads the two spatial axes by `radius` copies of the border rows."""
    for axis in (1, 2):
        first = ops.take(values, [0] * radius, axis=axis)
        last = ops.take(values, [values.shape[axis] - 1] * radius, axis=axis)
        values = ops.concatenate([first, values, last], axis=axis)
    return values


def _unit_features(stage):
    stage = ops.cast(stage, "float32")
    norm = ops.sqrt(ops.sum(ops.square(stage), axis=-1, keepdims=True))
    return stage / (norm + _NORM_EPSILON)


# The search multiplies tiles of 4 x 4 positions with their surroundings:
# measured on VGG16 stages, 8 x 8 tiles were as fast on TensorFlow and 2.7x
# slower on PyTorch.
_TILE = 4


def _clamped_positions(height, width, rows, columns):
    """Flat indices into a `height x width` grid of the positions
    `(rows[..., i], columns[..., j])`, clamped onto the grid: outside it the
    border positions repeat."""
    rows = np.clip(rows, 0, height - 1)[..., np.newaxis]
    columns = np.clip(columns, 0, width - 1)[..., np.newaxis, :]
    return (rows * width + columns).astype("int32")


def _displacements(radius):
    """The `(2 radius + 1)^2` displacements `(dy, dx)`, row-major, as columns."""
    offsets = np.arange(-radius, radius + 1)
    dy = np.repeat(offsets, len(offsets))[:, np.newaxis]
    dx = np.tile(offsets, len(offsets))[:, np.newaxis]
    return dy, dx


def _tile_indices(height, width, radius):
    """Where `_displacement_dots` gathers from, as numpy index arrays.

    The grid widened by `radius` on each side is cut into `_TILE x _TILE`
    tiles (`tiles_down x tiles_across`, the last ones reaching past it).

    Returns:
        `b_tiles (tiles_down, tiles_across, _TILE^2)`: b's position at each
        point of each tile; `a_tiles (tiles_down, tiles_across, halo^2)`: a's
        positions in the tile widened by `radius` (`halo = _TILE + 2 radius`);
        `select (displacements, _TILE, _TILE)`: for each displacement `d` and
        point `p` of a tile, where `a(p + d) . b(p)` lies in the tile's
        flattened `(_TILE^2, halo^2)` products.
    """
    span_height, span_width = height + 2 * radius, width + 2 * radius
    tiles_down, tiles_across = -(-span_height // _TILE), -(-span_width // _TILE)
    halo = _TILE + 2 * radius
    tile_rows = (np.arange(tiles_down) * _TILE)[:, np.newaxis] - radius
    tile_columns = (np.arange(tiles_across) * _TILE)[:, np.newaxis] - radius

    def positions(rows, columns):
        grid = _clamped_positions(
            height, width, rows[:, np.newaxis, :], columns[np.newaxis, :, :]
        )
        return grid.reshape(len(rows), len(columns), -1)

    points, around = np.arange(_TILE), np.arange(halo) - radius
    b_tiles = positions(tile_rows + points, tile_columns + points)
    a_tiles = positions(tile_rows + around, tile_columns + around)
    dy, dx = _displacements(radius)
    row, column = points[:, np.newaxis], points[np.newaxis, :]
    select = (row * _TILE + column) * halo * halo + (
        (row + dy[..., np.newaxis] + radius) * halo
        + (column + dx[..., np.newaxis] + radius)
    )
    return b_tiles, a_tiles, select.astype("int32")


def _displacement_dots(unit_a, unit_b, radius):
    """`a(p + d) . b(p)` for every displacement `d` and point `p` of the grid
    widened by `radius`, positions clamped onto the grid: `(n, displacements,
    height + 2 radius, width + 2 radius)`.

    All displacements at once, as one matrix product per tile of b with the
    tile's surroundings in a: a loop over displacements put a dozen ops per
    displacement into the traced graph (XLA took 10-20 s to compile one),
    and a gather of every displaced copy of a moved 25x a stage's bytes
    (measured: 2-3x slower than the loop on TensorFlow and JAX). The
    products cost 2.6x the multiply-adds needed at a radius of 2, at matrix
    product speed.
    """
    _, height, width, channels = unit_b.shape
    span_height, span_width = height + 2 * radius, width + 2 * radius
    b_tiles, a_tiles, select = _tile_indices(height, width, radius)
    tiles_down, tiles_across = b_tiles.shape[:2]
    unit_a = ops.reshape(unit_a, (-1, height * width, channels))
    unit_b = ops.reshape(unit_b, (-1, height * width, channels))
    products = ops.matmul(
        ops.take(unit_b, b_tiles, axis=1),
        ops.swapaxes(ops.take(unit_a, a_tiles, axis=1), -1, -2),
    )
    products = ops.reshape(
        products, (-1, tiles_down, tiles_across, _TILE**2 * a_tiles.shape[-1])
    )
    dots = ops.take(products, select, axis=3)
    # (n, down, across, d, row, column) -> (n, d, down, row, across, column)
    dots = ops.transpose(dots, (0, 3, 1, 4, 2, 5))
    dots = ops.reshape(
        dots, (-1, len(select), tiles_down * _TILE, tiles_across * _TILE)
    )
    return dots[:, :, :span_height, :span_width]


def _nearest_match_distances(unit_a, unit_b, radius):
    """Both ways, `|a' - b|^2 / 4` to the closest match within `radius`.

    Returns two maps: per position p of b, the distance to the closest a
    vector within `radius` positions of p; and per position q of a, the same
    with the roles swapped. Outside the grid the border vectors repeat. The
    distance of unit vectors is expanded into `|a'|^2 + |b|^2 - 2 a'.b` (a
    dead position has |a'| = 0, so two dead positions match); for equal
    inputs the unshifted term is 0 up to the rounding of the dot products
    (~1e-7, below the map's `_ROUNDING_FLOOR`).

    Both ways share their dot products: `a(q) . b(q + e)` is the dot product
    of displacement `-e` at position `q + e`, so one product per
    displacement over the grid widened by `radius` serves both.
    """
    _, height, width, channels = unit_b.shape
    span_height, span_width = height + 2 * radius, width + 2 * radius
    dy, dx = _displacements(radius)
    rows, columns = np.arange(height), np.arange(width)
    # a displaced by d from each of b's positions, b by -d from each of a's,
    # and that point of the widened grid in the flattened dot products.
    moved_a = _clamped_positions(height, width, rows + dy, columns + dx)
    moved_b = _clamped_positions(height, width, rows - dy, columns - dx)
    moved_dot = (
        np.arange(len(dy))[:, np.newaxis, np.newaxis] * span_height * span_width
        + (rows + radius - dy)[..., np.newaxis] * span_width
        + (columns + radius - dx)[..., np.newaxis, :]
    ).astype("int32")
    dots = _displacement_dots(unit_a, unit_b, radius)
    squared_a = ops.reshape(ops.sum(ops.square(unit_a), axis=-1), (-1, height * width))
    squared_b = ops.reshape(ops.sum(ops.square(unit_b), axis=-1), (-1, height * width))
    inner = dots[:, :, radius : radius + height, radius : radius + width]
    into_b = (
        ops.take(squared_a, moved_a, axis=1)
        + ops.reshape(squared_b, (-1, 1, height, width))
        - 2.0 * inner
    ) / 4.0
    flat_dots = ops.reshape(dots, (-1, len(dy) * span_height * span_width))
    into_a = (
        ops.take(squared_b, moved_b, axis=1)
        + ops.reshape(squared_a, (-1, 1, height, width))
        - 2.0 * ops.take(flat_dots, moved_dot, axis=1)
    ) / 4.0
    into_b = ops.expand_dims(ops.min(into_b, axis=1), -1)
    into_a = ops.expand_dims(ops.min(into_a, axis=1), -1)
    return ops.maximum(into_b, 0.0), ops.maximum(into_a, 0.0)


def _gaussian_kernel(sigma):
    radius = max(1, int(math.ceil(3.0 * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * np.square(offsets / sigma))
    return (weights / weights.sum()).astype(np.float32), radius


def _smooth(maps, sigma):
    """Separable Gaussian blur of `(n, height, width, 1)` maps, edges repeated."""
    weights, radius = _gaussian_kernel(sigma)
    maps = _repeat_edges(maps, radius)
    vertical = ops.convert_to_tensor(weights.reshape(-1, 1, 1, 1))
    horizontal = ops.convert_to_tensor(weights.reshape(1, -1, 1, 1))
    maps = ops.conv(maps, vertical, padding="valid")
    return ops.conv(maps, horizontal, padding="valid")


def _border_weights(size):
    """`(1, height, width, 1)` weights rising from 1/band at the border to 1.

    Near the border the backbone's zero padding weighs on every feature,
    and a shift moves content in and out of the frame: there the map
    reports differences a shifted or re-encoded copy has too (measured: the
    largest value of most such copies lay on the border).
    """
    height, width = size
    band = max(1.0, min(size) / _BORDER_DIVISOR)
    rows = np.arange(height, dtype=np.float64)
    columns = np.arange(width, dtype=np.float64)
    to_border = np.minimum.outer(
        np.minimum(rows, height - 1 - rows), np.minimum(columns, width - 1 - columns)
    )
    weights = np.clip((to_border + 1.0) / band, 0.0, 1.0)
    return ops.convert_to_tensor(weights.reshape(1, height, width, 1), "float32")


def difference_map(stages_a, stages_b, size):
    """The "features" map: shift-tolerant, all-scales feature differences.

    See the module docstring. Apply `match_photometry` to image 2 before
    the backbone gives `stages_b`.

    Args:
        stages_a: list of tensors `(pairs, height_s, width_s, channels_s)`,
            one per backbone stage, for the first image of each pair.
        stages_b: the same for the second image of each pair.
        size: `(height, width)` of the output map.

    Returns:
        A float32 tensor `(pairs, height, width)` with values in [0, 1].
    """
    total = None
    for stage_a, stage_b in zip(stages_a, stages_b):
        if 2 * stage_a.shape[1] > size[0] and stage_a.shape[1] > 1:
            # Full-resolution stages are searched at half resolution: a
            # quarter of the positions and of the shifts, for a map that is
            # smoothed anyway.
            stage_a = ops.average_pool(stage_a, 2, strides=2, padding="same")
            stage_b = ops.average_pool(stage_b, 2, strides=2, padding="same")
        unit_a, unit_b = _unit_features(stage_a), _unit_features(stage_b)
        radius = int(math.ceil(SHIFT_TOLERANCE * stage_a.shape[1] / size[0]))
        distance = ops.maximum(*_nearest_match_distances(unit_a, unit_b, radius))
        if tuple(distance.shape[1:3]) != tuple(size):
            distance = ops.image.resize(distance, size, interpolation="bilinear")
        logarithm = ops.log(ops.maximum(distance, 0.0) + _GEOMETRIC_EPSILON)
        total = logarithm if total is None else total + logarithm
    mean = ops.exp(total / float(len(stages_a))) - _GEOMETRIC_EPSILON
    mean = ops.maximum(mean, 0.0) * _border_weights(size)
    mean = _smooth(mean, min(size) / _SMOOTHING_DIVISOR)
    mean = ops.where(mean < _ROUNDING_FLOOR, 0.0, mean)
    return ops.clip(ops.squeeze(mean, axis=-1), 0.0, 1.0)


def feature_distance_map(stages_a, stages_b, size):
    """The "lpips" map: the LPIPS-style mean over stages, position by position.

    Args:
        stages_a: list of tensors `(pairs, height_s, width_s, channels_s)`,
            one per backbone stage, for the first image of each pair.
        stages_b: the same for the second image of each pair.
        size: `(height, width)` of the output map.

    Returns:
        A float32 tensor `(pairs, height, width)` with values in [0, 1].
    """
    total = None
    for stage_a, stage_b in zip(stages_a, stages_b):
        distance = _unit_vector_distance(stage_a, stage_b)
        if tuple(distance.shape[1:3]) != tuple(size):
            distance = ops.image.resize(distance, size, interpolation="bilinear")
        total = distance if total is None else total + distance
    mean = total / float(len(stages_a))
    return ops.clip(ops.squeeze(mean, axis=-1), 0.0, 1.0)


def _sums_dtype(dtype):
    """The dtype `_unit_vector_distance` sums features of `dtype` in.

    bfloat16 features (a mixed_bfloat16 tower) are summed in bfloat16, like
    the rest of that forward pass: it reads half the bytes of a float32 copy
    and, with float32's exponent range, squares cannot overflow. Measured on
    VGG16 stages of photos: 40% less time, maps within 1.4e-3 of float32
    sums, the size of the gap (1.9e-3) that the bfloat16 forward pass itself
    opens. float16 squares overflow above 256, so all else uses float32.
    """
    if keras.backend.standardize_dtype(dtype) == "bfloat16":
        return "bfloat16"
    return "float32"


def _unit_vector_distance(a, b):
    """`|a/(|a|+eps) - b/(|b|+eps)|^2 / 4` over the last axis, keeping it.

    Expanded into `|a|^2`, `|b|^2` and `a . b`, so no normalized copy of the
    features is made (half the time on the large early stages). For equal
    inputs the three sums are equal bit for bit and the result is exactly 0.
    The sums are taken in `_sums_dtype`, the rest in float32.
    """
    dtype = _sums_dtype(a.dtype)
    a, b = ops.cast(a, dtype), ops.cast(b, dtype)

    def channel_sum(values):
        return ops.cast(ops.sum(values, axis=-1, keepdims=True), "float32")

    squared_a = channel_sum(ops.square(a))
    squared_b = channel_sum(ops.square(b))
    dot = channel_sum(a * b)
    norm_a = ops.sqrt(squared_a) + _NORM_EPSILON
    norm_b = ops.sqrt(squared_b) + _NORM_EPSILON
    distance = (
        squared_a / (norm_a * norm_a)
        + squared_b / (norm_b * norm_b)
        - 2.0 * (dot / (norm_a * norm_b))
    ) / 4.0
    # XLA (the JAX backend) may fuse the three terms differently, so equal
    # inputs leave float32 rounding noise of ~1e-8 instead of an exact 0.
    return ops.where(distance < _ROUNDING_FLOOR, 0.0, distance)


def pixel_difference_map(image_a, image_b):
    """`(1 - SSIM) / 2` per pixel between two same-size 0-255 images.

    SSIM uses the 7x7 uniform window of scikit-image; colour images are
    compared channel by channel and averaged.

    Args:
        image_a: float array `(height, width, channels)` in [0, 255].
        image_b: the same shape as `image_a`.

    Returns:
        A float32 array `(height, width)` with values in [0, 1].
    """
    image_a = np.asarray(image_a, np.float64)
    image_b = np.asarray(image_b, np.float64)
    if image_a.shape != image_b.shape:
        raise InvalidArgumentError(
            "Both images must have the same shape for a pixel map. Received: "
            f"shapes {image_a.shape} and {image_b.shape}"
        )
    if min(image_a.shape[:2]) < 7:
        raise InvalidArgumentError(
            "The 'pixels' map needs images of at least 7x7 pixels. Received: "
            f"shape {image_a.shape}"
        )
    _, similarity = structural_similarity(
        image_a, image_b, data_range=255.0, channel_axis=-1, full=True
    )
    difference = (1.0 - similarity.mean(axis=-1)) / 2.0
    return np.clip(difference, 0.0, 1.0).astype(np.float32)

"""Views of one image as a copy of it would look: edited, re-encoded, resized.

The positives of duplicate detection are not other photos of the same thing
but the same photo after what happens to copies: cropping, resizing,
re-encoding, colour edits, a small rotation, a caption or logo on top.
`CopyAugmentation` draws such views in `tf.data` with stateless random ops,
so that a pipeline built with a seed gives the same views on every run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

from siamesekit.errors import InvalidArgumentError

# Independent random streams, one for each draw of `__call__` (25 today).
_NUM_SEEDS = 32


@dataclasses.dataclass(frozen=True)
class CopyAugmentation:
    """Random crops, resizing, JPEG re-encoding, colour edits, rotation, overlays.

    Each image is changed independently, in this order: a crop of a random
    part of the image scaled back to full size, with a small rotation (the
    corners filled by reflection or black, half of the views each); a loss
    of resolution (down to a random size and back); brightness, contrast,
    gamma, and for colour images saturation and a per-channel colour cast; a
    text-like overlay (a band of strokes in one colour, partly transparent)
    on some views; and JPEG re-encoding at a random quality. Pixels stay in
    [0, 255].

    Args:
        flip: bool, mirror left-right with probability 1/2. Defaults to
            `False`: a mirrored photo is usually a different picture (text
            reads backwards), not a copy.
        min_crop: float in (0, 1], the smallest side of the crop as a
            fraction of the image side. Defaults to `0.7`.
        max_rotation: float in [0, 90), largest rotation in degrees, either
            way. Defaults to `6.0`.
        min_resolution: float in (0, 1], the smallest side, as a fraction,
            that views are resized down to before being resized back.
            Defaults to `0.35`.
        brightness: float in [0, 1), largest brightness change as a fraction
            of 255. Defaults to `0.2`.
        contrast: float in [0, 1), contrast is scaled by a factor in
            `[1 - contrast, 1 + contrast]`. Defaults to `0.35`.
        gamma: float in [0, 1), the gamma exponent is drawn from
            `[1 - gamma, 1 + gamma]`. Defaults to `0.3`.
        saturation: float in [0, 1], colour images are blended towards grey
            or away from it by up to this fraction. Defaults to `0.6`.
        colour_cast: float in [0, 1), each colour channel is scaled by a
            factor in `[1 - colour_cast, 1 + colour_cast]`. Defaults to
            `0.15`.
        overlay_probability: float in [0, 1], chance of a text-like overlay.
            Defaults to `0.5`.
        min_jpeg_quality: int in [1, 100], the lowest JPEG quality of the
            re-encoding (the highest is 95); `100` turns it off. Defaults to
            `30`.

    Example:

    ```python
    batches = siamesekit.data.identity_batch_dataset(
        images,
        np.arange(len(images)),  # every image is its own identity
        augment=siamesekit.data.CopyAugmentation(),
    )
    ```
    """

    flip: bool = False
    min_crop: float = 0.7
    max_rotation: float = 6.0
    min_resolution: float = 0.35
    brightness: float = 0.2
    contrast: float = 0.35
    gamma: float = 0.3
    saturation: float = 0.6
    colour_cast: float = 0.15
    overlay_probability: float = 0.5
    min_jpeg_quality: int = 30

    def __post_init__(self):
        for name, low, high, closed_low, closed_high in (
            ("min_crop", 0.0, 1.0, False, True),
            ("max_rotation", 0.0, 90.0, True, False),
            ("min_resolution", 0.0, 1.0, False, True),
            ("brightness", 0.0, 1.0, True, False),
            ("contrast", 0.0, 1.0, True, False),
            ("gamma", 0.0, 1.0, True, False),
            ("saturation", 0.0, 1.0, True, True),
            ("colour_cast", 0.0, 1.0, True, False),
            ("overlay_probability", 0.0, 1.0, True, True),
        ):
            value = getattr(self, name)
            inside = isinstance(value, (int, float)) and not isinstance(value, bool)
            if inside:
                inside = (low <= value if closed_low else low < value) and (
                    value <= high if closed_high else value < high
                )
            if not inside:
                interval = (
                    ("[" if closed_low else "(")
                    + f"{low:g}, {high:g}"
                    + ("]" if closed_high else ")")
                )
                raise InvalidArgumentError(
                    f"`{name}` must be in {interval}. Received: {name}={value!r}"
                )
        quality = self.min_jpeg_quality
        if (
            isinstance(quality, bool)
            or not isinstance(quality, int)
            or not 1 <= quality <= 100
        ):
            raise InvalidArgumentError(
                "`min_jpeg_quality` must be an integer in [1, 100]. "
                f"Received: min_jpeg_quality={quality!r}"
            )

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Draws one copy-like view of each image of a batch.

        Args:
            images: float32 tensor `(batch, height, width, channels)`, values
                in [0, 255], 1 or 3 channels, a static height and width.
            seed: int tensor of shape `(2,)`, the stateless random seed.

        Returns:
            The views, same shape, float32 values in [0, 255].
        """
        import tensorflow as tf  # only where a pipeline is built

        images = tf.convert_to_tensor(images, tf.float32)
        seeds = iter(
            tf.unstack(tf.random.experimental.stateless_split(seed, _NUM_SEEDS))
        )
        batch = tf.shape(images)[0]
        height, width = int(images.shape[1]), int(images.shape[2])
        channels = int(images.shape[3])

        def uniform(low, high, shape=None):
            return tf.random.stateless_uniform(
                [batch] if shape is None else shape, next(seeds), low, high
            )

        def per_image(values):
            return values[:, None, None, None]

        images = self._crop_and_rotate(images, uniform, height, width)
        images = self._lower_resolution(images, uniform, height, width)
        images = self._edit_colours(images, uniform, per_image, channels)
        images = self._overlay(images, uniform, per_image, height, width, channels)
        images = tf.clip_by_value(images, 0.0, 255.0)
        if self.min_jpeg_quality < 100:
            qualities = tf.random.stateless_uniform(
                [batch], next(seeds), self.min_jpeg_quality, 96, dtype=tf.int32
            )
            images = 255.0 * tf.map_fn(
                lambda item: tf.image.adjust_jpeg_quality(item[0], item[1]),
                (images / 255.0, qualities),
                fn_output_signature=tf.float32,
            )
            images = tf.ensure_shape(images, [None, height, width, channels])
        return tf.clip_by_value(images, 0.0, 255.0)

    def _crop_and_rotate(self, images, uniform, height, width):
        import tensorflow as tf

        side = uniform(self.min_crop, 1.0)
        # The crop's centre stays where the whole crop fits in the image.
        room = (1.0 - side) / 2.0
        centre_x = (width - 1) / 2.0 + uniform(-1.0, 1.0) * room * width
        centre_y = (height - 1) / 2.0 + uniform(-1.0, 1.0) * room * height
        radians = self.max_rotation * math.pi / 180.0
        angle = uniform(-radians, radians)
        mirror = tf.ones_like(side)
        if self.flip:
            mirror = tf.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
        # Output pixel p shows input point R (p - c_out) * side + centre,
        # with x mirrored about the output centre where asked.
        cos, sin = tf.cos(angle) * side, tf.sin(angle) * side
        out_x, out_y = (width - 1) / 2.0, (height - 1) / 2.0
        a0, a1 = cos * mirror, -sin
        b0, b1 = sin * mirror, cos
        a2 = centre_x - a0 * out_x - a1 * out_y
        b2 = centre_y - b0 * out_x - b1 * out_y
        zeros = tf.zeros_like(side)
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)

        def resample(fill_mode):
            return tf.raw_ops.ImageProjectiveTransformV3(
                images=images,
                transforms=transforms,
                output_shape=[height, width],
                fill_value=0.0,
                interpolation="BILINEAR",
                fill_mode=fill_mode,
            )

        black_corners = uniform(0.0, 1.0) < 0.5
        return tf.where(
            black_corners[:, None, None, None],
            resample("CONSTANT"),
            resample("REFLECT"),
        )

    def _lower_resolution(self, images, uniform, height, width):
        import tensorflow as tf

        if self.min_resolution >= 1.0:
            return images
        fraction = uniform(self.min_resolution, 1.0, shape=[])
        small = [
            tf.maximum(1, tf.cast(fraction * height, tf.int32)),
            tf.maximum(1, tf.cast(fraction * width, tf.int32)),
        ]
        smaller = tf.image.resize(images, small, method="area")
        blurred = tf.image.resize(smaller, [height, width], method="bilinear")
        # Half of the views keep their resolution: a batch shares one size.
        keep = uniform(0.0, 1.0) < 0.5
        return tf.where(keep[:, None, None, None], images, blurred)

    def _edit_colours(self, images, uniform, per_image, channels):
        import tensorflow as tf

        if channels == 3:
            grey = tf.reduce_mean(images, axis=-1, keepdims=True)
            amount = per_image(uniform(-self.saturation, self.saturation))
            images = images + amount * (images - grey)
            if self.colour_cast > 0:
                gains = uniform(
                    1.0 - self.colour_cast,
                    1.0 + self.colour_cast,
                    shape=tf.stack([tf.shape(images)[0], 3]),
                )
                images = images * gains[:, None, None, :]
        if self.gamma > 0:
            exponent = per_image(uniform(1.0 - self.gamma, 1.0 + self.gamma))
            unit = tf.clip_by_value(images / 255.0, 0.0, 1.0)
            images = 255.0 * tf.pow(unit, exponent)
        if self.contrast > 0:
            factor = per_image(uniform(1.0 - self.contrast, 1.0 + self.contrast))
            mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
            images = (images - mean) * factor + mean
        if self.brightness > 0:
            delta = uniform(-self.brightness, self.brightness) * 255.0
            images = images + per_image(delta)
        return tf.clip_by_value(images, 0.0, 255.0)

    def _overlay(self, images, uniform, per_image, height, width, channels):
        """A caption-like band of strokes: letters seen from afar."""
        import tensorflow as tf

        if self.overlay_probability <= 0:
            return images
        rows = tf.range(height, dtype=tf.float32)[None, :, None, None]
        columns = tf.range(width, dtype=tf.float32)[None, None, :, None]
        band_height = per_image(uniform(0.07, 0.16) * height)
        top = per_image(uniform(0.0, 1.0)) * (height - band_height)
        band_width = per_image(uniform(0.3, 0.9) * width)
        left = per_image(uniform(0.0, 1.0)) * (width - band_width)
        inside = (
            (rows >= top)
            & (rows < top + band_height)
            & (columns >= left)
            & (columns < left + band_width)
        )
        # Vertical strokes about a third of a letter wide, a letter about
        # 0.6 band heights, with a gap between words now and then.
        letter = tf.maximum(0.6 * band_height, 2.0)
        position = (columns - left) / letter + per_image(uniform(0.0, 1.0))
        stroke = tf.math.floormod(position, 1.0) < 0.4
        bar = tf.math.floormod((rows - top) / band_height, 1.0)
        bar = (bar < 0.2) | (bar > 0.8)
        word_gap = tf.math.floormod(position, 5.3) > 4.5
        glyphs = inside & (stroke | bar) & ~word_gap
        shown = uniform(0.0, 1.0) < self.overlay_probability
        glyphs = glyphs & per_image(shown)
        colour = uniform(0.0, 255.0, shape=tf.stack([tf.shape(images)[0], channels]))
        # Captions are mostly white or black; some are coloured.
        extreme = uniform(0.0, 1.0) < 0.7
        white = uniform(0.0, 1.0) < 0.5
        plain = tf.where(white, 255.0, 0.0)[:, None] * tf.ones([1, channels])
        colour = tf.where(extreme[:, None], plain, colour)[:, None, None, :]
        opacity = per_image(uniform(0.6, 1.0))
        mixed = images * (1.0 - opacity) + colour * opacity
        return tf.where(glyphs, mixed, images)

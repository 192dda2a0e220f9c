"""Light, label-preserving image augmentation for training pipelines.

Runs in `tf.data` with stateless random ops, so a pipeline built with a seed
gives the same augmented images on every run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

from siamesekit.errors import InvalidArgumentError


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Random flips, small rotations, zooms and shifts, brightness and contrast.

    Each image of a pair is augmented independently. Pixels stay in
    [0, 255].

    Args:
        flip: bool, mirror left-right with probability 1/2. Turn it off when
            mirroring changes the meaning (text, digits). Defaults to `True`.
        max_rotation: float in [0, 90), largest rotation in degrees, either
            way, around the image centre. Defaults to `8.0`.
        max_zoom: float in [0, 0.5), the image is scaled by a factor drawn
            from `[1 - max_zoom, 1 + max_zoom]`. Defaults to `0.1`.
        max_shift: float in [0, 0.5), largest shift as a fraction of the
            height and width; the border is filled by reflection. Defaults
            to `0.08`.
        brightness: float in [0, 1), largest brightness change as a fraction
            of 255. Defaults to `0.08`.
        contrast: float in [0, 1), contrast is scaled by a factor drawn from
            `[1 - contrast, 1 + contrast]`. Defaults to `0.2`.

    Example:

    ```python
    dataset = siamesekit.data.pair_dataset(
        images, labels, augment=siamesekit.data.Augmentation(flip=False)
    )
    ```
    """

    flip: bool = True
    max_rotation: float = 8.0
    max_zoom: float = 0.1
    max_shift: float = 0.08
    brightness: float = 0.08
    contrast: float = 0.2

    def __post_init__(self):
        for name, upper in (
            ("max_rotation", 90.0),
            ("max_zoom", 0.5),
            ("max_shift", 0.5),
            ("brightness", 1.0),
            ("contrast", 1.0),
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < upper:
                raise InvalidArgumentError(
                    f"`{name}` must be in [0, {upper}). Received: {name}={value!r}"
                )

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Augments a batch of float32 images `(batch, height, width, channels)`.

        Flip, rotation, zoom and shift are one geometric transform per image,
        applied to the whole batch in a single resampling op (borders filled
        by reflection); brightness and contrast are drawn per image too.

        Args:
            images: float32 tensor with values in [0, 255].
            seed: int tensor of shape `(2,)`, the stateless random seed.

        Returns:
            The augmented images, same shape, values in [0, 255].
        """
        import tensorflow as tf  # only where a pipeline is built

        images = tf.convert_to_tensor(images, tf.float32)
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, num=7))
        batch = tf.shape(images)[0]
        height = tf.cast(tf.shape(images)[1], tf.float32)
        width = tf.cast(tf.shape(images)[2], tf.float32)

        def uniform(seed, low, high):
            return tf.random.stateless_uniform([batch], seed, low, high)

        if self.flip or self.max_rotation or self.max_zoom or self.max_shift:
            radians = self.max_rotation * math.pi / 180.0
            angle = uniform(seeds[0], -radians, radians)
            scale = uniform(seeds[1], 1.0 - self.max_zoom, 1.0 + self.max_zoom)
            shift_x = uniform(seeds[2], -1.0, 1.0) * self.max_shift * width
            shift_y = uniform(seeds[3], -1.0, 1.0) * self.max_shift * height
            mirror = tf.ones([batch])
            if self.flip:
                mirror = tf.where(uniform(seeds[4], 0.0, 1.0) < 0.5, -1.0, 1.0)
            images = _transform(
                images, angle, scale, shift_x, shift_y, mirror, height, width
            )
        if self.brightness > 0:
            delta = uniform(seeds[5], -self.brightness, self.brightness) * 255.0
            images = images + delta[:, None, None, None]
        if self.contrast > 0:
            factor = uniform(seeds[6], 1.0 - self.contrast, 1.0 + self.contrast)
            mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
            images = (images - mean) * factor[:, None, None, None] + mean
        return tf.clip_by_value(images, 0.0, 255.0)


def _transform(images, angle, scale, shift_x, shift_y, mirror, height, width):
    """Mirrors (where `mirror` is -1), rotates, scales and shifts each image.

    ImageProjectiveTransformV3 maps each output pixel `p` to the input point
    `A (p - c - t) + c` (rotation and scale `A` around the centre `c`, shift
    `t`), mirrored as `x -> width - 1 - x` where asked.
    """
    import tensorflow as tf  # only where a pipeline is built

    center_x, center_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1, b0, b1 = cos, -sin, sin, cos
    a2 = center_x - (a0 * (center_x + shift_x) + a1 * (center_y + shift_y))
    b2 = center_y - (b0 * (center_x + shift_x) + b1 * (center_y + shift_y))
    offset = (1.0 - mirror) / 2.0 * (width - 1.0)
    zeros = tf.zeros_like(angle)
    transforms = tf.stack(
        [mirror * a0, mirror * a1, mirror * a2 + offset, b0, b1, b2, zeros, zeros],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def resolve_augmentation(augment) -> Augmentation | None:
    """Turns the `augment=` argument of the dataset builders into a callable.

    `None` or `False` mean no augmentation, `True` the default
    `Augmentation()`, and an `Augmentation` or a
    `siamesekit.data.CopyAugmentation` is used as given.
    """
    from siamesekit.data.copy_augmentation import CopyAugmentation

    if augment is None or augment is False:
        return None
    if augment is True:
        return Augmentation()
    if isinstance(augment, (Augmentation, CopyAugmentation)):
        return augment
    raise InvalidArgumentError(
        "`augment` must be True, False, None, a siamesekit.data.Augmentation or "
        f"a siamesekit.data.CopyAugmentation. Received: augment={augment!r}"
    )

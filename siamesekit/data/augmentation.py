"""Light, label-preserving image augmentation for training pipelines.

Runs in `tf.data` with stateless random ops, so a pipeline built with a seed
gives the same augmented images on every run.
"""

from __future__ import annotations

import dataclasses
import math

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

    def __call__(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Augments one float32 image `(height, width, channels)`.

        Args:
            image: float32 tensor with values in [0, 255].
            seed: int tensor of shape `(2,)`, the stateless random seed.

        Returns:
            The augmented image, same shape, values in [0, 255].
        """
        seeds = tf.random.experimental.stateless_split(seed, num=5)
        if self.flip:
            image = tf.image.stateless_random_flip_left_right(image, seeds[0])
        if self.max_rotation > 0 or self.max_zoom > 0:
            image = _random_rotate_zoom(
                image, self.max_rotation, self.max_zoom, seeds[4]
            )
        if self.max_shift > 0:
            image = _random_shift(image, self.max_shift, seeds[1])
        if self.brightness > 0:
            image = tf.image.stateless_random_brightness(
                image, self.brightness * 255.0, seeds[2]
            )
        if self.contrast > 0:
            image = tf.image.stateless_random_contrast(
                image, 1.0 - self.contrast, 1.0 + self.contrast, seeds[3]
            )
        return tf.clip_by_value(image, 0.0, 255.0)


def _random_rotate_zoom(image, max_rotation, max_zoom, seed):
    """Rotates and scales around the centre; borders are filled by reflection."""
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    radians = max_rotation * math.pi / 180.0
    angle = tf.random.stateless_uniform([], seeds[0], -radians, radians)
    scale = tf.random.stateless_uniform([], seeds[1], 1.0 - max_zoom, 1.0 + max_zoom)
    shape = tf.shape(image)
    center_y = (tf.cast(shape[0], tf.float32) - 1.0) / 2.0
    center_x = (tf.cast(shape[1], tf.float32) - 1.0) / 2.0
    # The transform maps output pixel coordinates to input coordinates.
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    transform = tf.stack(
        [
            cos,
            -sin,
            center_x - cos * center_x + sin * center_y,
            sin,
            cos,
            center_y - sin * center_x - cos * center_y,
            0.0,
            0.0,
        ]
    )
    transformed = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform[tf.newaxis],
        output_shape=shape[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return transformed[0]


def _random_shift(image, max_shift, seed):
    shape = tf.shape(image)
    pad_height = tf.cast(tf.round(tf.cast(shape[0], tf.float32) * max_shift), tf.int32)
    pad_width = tf.cast(tf.round(tf.cast(shape[1], tf.float32) * max_shift), tf.int32)
    # Reflection needs the padding to be smaller than the image.
    pad_height = tf.minimum(pad_height, shape[0] - 1)
    pad_width = tf.minimum(pad_width, shape[1] - 1)
    padded = tf.pad(
        image,
        [[pad_height, pad_height], [pad_width, pad_width], [0, 0]],
        mode="REFLECT",
    )
    return tf.image.stateless_random_crop(padded, shape, seed)


def resolve_augmentation(augment) -> Augmentation | None:
    """Turns the `augment=` argument of the dataset builders into a callable.

    `None` or `False` mean no augmentation, `True` the default
    `Augmentation()`, and an `Augmentation` is used as given.
    """
    if augment is None or augment is False:
        return None
    if augment is True:
        return Augmentation()
    if isinstance(augment, Augmentation):
        return augment
    raise InvalidArgumentError(
        "`augment` must be True, False, None or a siamesekit.data.Augmentation. "
        f"Received: augment={augment!r}"
    )

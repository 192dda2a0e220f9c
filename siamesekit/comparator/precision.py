"""Choosing a numeric precision for inference, and building towers in it."""

from __future__ import annotations

import keras

from siamesekit.dtype_policy import dtype_policy_scope
from siamesekit.errors import InvalidArgumentError

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")

# CPU flags of fast bfloat16 matrix units (Intel AVX512_BF16, AMX; AMD Zen 4+).
_BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_fast_bfloat16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU advertises AVX512_BF16 or AMX-BF16 (Linux only)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return any(flag in flags for flag in _BFLOAT16_CPU_FLAGS)
    except OSError:
        pass
    return False


def has_nvidia_gpu() -> bool:
    """Whether the current Keras backend sees a CUDA GPU."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return any(device.platform == "gpu" for device in jax.devices())
        if backend == "torch":
            import torch

            return torch.cuda.is_available()
    except Exception:  # A broken GPU runtime must not stop CPU inference.
        return False
    return False


def resolve_precision(precision: str) -> str:
    """Turns `"auto"` into a concrete Keras dtype policy name.

    `"auto"` gives `"mixed_float16"` on an NVIDIA GPU, `"mixed_bfloat16"` on
    a CPU with AVX512_BF16 or AMX, and `"float32"` otherwise.
    """
    if precision not in PRECISIONS:
        raise InvalidArgumentError(
            f"`precision` must be one of {PRECISIONS}. "
            f"Received: precision={precision!r}"
        )
    if precision != "auto":
        return precision
    if has_nvidia_gpu():
        return "mixed_float16"
    if cpu_has_fast_bfloat16():
        return "mixed_bfloat16"
    return "float32"


def tower_in_precision(tower, policy: str):
    """Returns `tower` itself, or a copy computing in `policy` with its weights.

    Args:
        tower: a built `keras.layers.Layer` mapping images to embeddings.
        policy: a Keras dtype policy name such as `"mixed_bfloat16"`.

    Returns:
        A built layer with the same weights whose compute dtype follows
        `policy`; embeddings of a `siamesekit.EmbeddingTower` stay float32.
    """
    if tower.dtype_policy.name == policy:
        return tower
    config = tower.get_config()
    config["dtype"] = policy
    try:
        with dtype_policy_scope(policy):
            copy = type(tower).from_config(config)
    except Exception as error:
        raise InvalidArgumentError(
            f"Cannot rebuild this {type(tower).__name__} in precision {policy!r} "
            f"({error}). Pass precision={tower.dtype_policy.name!r} to use it as "
            "it is."
        ) from error
    image_shape = getattr(tower, "image_shape", None)
    if image_shape is None:
        raise InvalidArgumentError(
            f"Cannot rebuild this {type(tower).__name__} in precision {policy!r}: "
            "its input shape is unknown. Pass "
            f"precision={tower.dtype_policy.name!r}."
        )
    copy.build((None,) + tuple(image_shape))
    copy.set_weights(tower.get_weights())
    return copy

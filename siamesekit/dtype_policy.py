"""A scope that sets the Keras dtype policy and always restores it."""

from __future__ import annotations

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Sets the Keras dtype policy inside the block, restoring it afterwards.

    Layers created without an explicit `dtype` (such as a `keras.applications`
    backbone) take the global policy, so a tower in a given precision builds
    them inside this scope. Keras keeps the policy per thread, and the
    previous one is always restored, so the user's policy is never changed.

    Args:
        policy: a Keras dtype policy or its name, e.g. `"mixed_bfloat16"`.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

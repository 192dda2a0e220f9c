"""The one backend seam of inference: compiling a function of a tower.

TensorFlow traces it with `tf.function`, which reads the variables when it
runs. `jax.jit` would bake a closure's weights into the trace: the function
is run statelessly instead, with the variables' current values passed in as
arguments on every call, so `set_weights` or further training is seen
without a retrace. PyTorch runs it eagerly, without building a graph of
gradients.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras


def _tensorflow(function, variables):
    import tensorflow as tf

    return tf.function(function, reduce_retracing=True)


def _jax(function, variables):
    import jax

    variables = list(variables)

    def stateless(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return function(*args)

    jitted = jax.jit(stateless)

    def call(*args):
        return jitted([variable.value for variable in variables], *args)

    return call


def _torch(function, variables):
    import torch

    def call(*args):
        with torch.no_grad():
            return function(*args)

    return call


_COMPILERS = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}


def compile_inference(
    function: Callable, variables: Sequence[keras.Variable]
) -> Callable:
    """Compiles `function` for the running Keras backend.

    Args:
        function: a function of tensors that reads `variables` (through the
            layers it calls) and assigns none of them.
        variables: every variable `function` reads; build the layers first,
            so that none is created inside the compiled function.

    Returns:
        A function with the same arguments and results that always sees the
        variables' current values.
    """
    return _COMPILERS[keras.backend.backend()](function, variables)

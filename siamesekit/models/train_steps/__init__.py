"""The one backend seam of `SiameseModel` training: computing and applying gradients.

Everything a step computes (the forward pass, the loss, the pairs the metrics
see, the metric updates) is shared `keras.ops` code in the model. Only
"compute the gradients of this loss and apply them" differs per backend, as
in Keras' own trainers: `GradientTape` on TensorFlow, `jax.value_and_grad`
over stateless variables on JAX, `backward()` on PyTorch. The mixin for the
running backend is chosen once, when this module is imported.

A mixin calls two methods of the model it is mixed into:

- `_loss_and_pairs(x, y, sample_weight, training)` returns
  `(loss, pairs)`: the unscaled scalar loss and the `(labels, distances,
  weights)` of the pairs of the batch;
- `_update_metrics(loss, pairs)` updates the trackers and returns the logs.

and provides two replica hooks the model calls for identity batches
(`whole_batch.WholeBatchSteps`): `_gather_replicas` gives the in-batch loss
the embeddings of the whole global batch, `_replica_share` the part of that
loss whose gradients this replica contributes.
"""

import keras


def _steps_for_backend(backend):
    if backend == "tensorflow":
        from siamesekit.models.train_steps.tensorflow_steps import TensorFlowSteps

        return TensorFlowSteps
    if backend == "jax":
        from siamesekit.models.train_steps.jax_steps import JaxSteps

        return JaxSteps
    if backend == "torch":
        from siamesekit.models.train_steps.torch_steps import TorchSteps

        return TorchSteps
    raise ImportError(
        "siamesekit trains on the TensorFlow, JAX and PyTorch backends of "
        f"Keras. Received: KERAS_BACKEND={backend!r}"
    )


BackendSteps = _steps_for_backend(keras.backend.backend())

__all__ = ["BackendSteps"]

"""Train and test steps on the TensorFlow backend (`tf.GradientTape`).

Under `tf.distribute.MirroredStrategy` each replica runs the step on its
slice of the global batch, and three things would differ from one device:

- Keras divides a pair loss by the number of replicas (their gradients are
  summed), so the loss is multiplied back before it is reported;
- BatchNormalization would normalize each slice by its own statistics: the
  step traces the forward pass with `synchronized=True` on every
  BatchNormalization layer (set for the trace only, so that saved configs
  stay loadable on JAX and PyTorch, which refuse it);
- an in-batch loss would see only the pairs inside a slice: the embeddings
  and identities of all replicas are all-gathered, each replica computes the
  loss of the global batch, and its share is `1 / replicas` of it.
  `ReplicaContext.all_gather` sums the incoming gradients across replicas
  before it slices them, so the summed gradients are those of the global
  loss. The metrics see the pairs whose first image is the replica's own, so
  every pair of the global batch is counted once.
"""

import contextlib

import keras
import tensorflow as tf

from siamesekit.models.train_steps.whole_batch import WholeBatchSteps


def _replica_context():
    """The replica context of a step run by several replicas, else `None`."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def batch_norm_layers(model):
    """Every BatchNormalization layer inside `model`, however deeply nested."""
    # Keras has no public walker over the sublayers of a subclassed layer.
    return [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@contextlib.contextmanager
def _synchronized_batch_norm(model):
    if _replica_context() is None:
        yield
        return
    layers = [layer for layer in batch_norm_layers(model) if not layer.synchronized]
    for layer in layers:
        layer.synchronized = True
    try:
        yield
    finally:
        for layer in layers:
            layer.synchronized = False


def _reported(loss):
    """The loss as one device would report it (Keras divided it by replicas)."""
    context = _replica_context()
    if context is None:
        return loss
    return loss * tf.cast(context.num_replicas_in_sync, loss.dtype)


class TensorFlowSteps(WholeBatchSteps):
    """`train_step`/`test_step` of the Keras guide "custom train_step in TensorFlow"."""

    def _gather_replicas(self, embeddings, identity_ids):
        context = _replica_context()
        if context is None:
            return embeddings, identity_ids, None
        replica = context.replica_id_in_sync_group
        owner = tf.fill(tf.shape(identity_ids)[:1], replica)
        # Integers apart: all_gather's gradient is defined for floats.
        identity_ids, owner = context.all_gather(
            [tf.reshape(identity_ids, (-1,)), owner], axis=0
        )
        embeddings = context.all_gather(embeddings, axis=0)
        return embeddings, identity_ids, tf.cast(tf.equal(owner, replica), "float32")

    def _replica_share(self, loss):
        context = _replica_context()
        if context is None:
            return loss
        return loss / tf.cast(context.num_replicas_in_sync, loss.dtype)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape, _synchronized_batch_norm(self):
            loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=True)
            # mixed_float16 wraps the optimizer in a LossScaleOptimizer.
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(_reported(loss), pairs)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=False)
        return self._update_metrics(_reported(loss), pairs)

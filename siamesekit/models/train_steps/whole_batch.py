"""Replica hooks of steps that see the whole global batch at once."""


class WholeBatchSteps:
    """The replica hooks of a step that sees the whole batch.

    On one device, and on JAX under `keras.distribution.DataParallel`, the
    step function is traced on the global batch (JAX shards it across the
    devices and XLA inserts the collectives), so an in-batch loss already
    sees every image of the batch and Keras does not divide the loss by a
    replica count. `TensorFlowSteps` replaces these hooks under
    `tf.distribute.MirroredStrategy`, where each replica sees a slice.
    """

    def _gather_replicas(self, embeddings, identity_ids):
        """`(embeddings, identity_ids, own_rows)` of the global batch.

        `own_rows` is `None` when this step holds the whole batch, else a
        float mask of the rows this replica embedded itself.
        """
        return embeddings, identity_ids, None

    def _replica_share(self, loss):
        """This replica's share of a loss computed on the global batch."""
        return loss

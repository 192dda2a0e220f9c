"""Train and test steps on the TensorFlow backend (`tf.GradientTape`)."""

import keras
import tensorflow as tf


class TensorFlowSteps:
    """`train_step`/`test_step` of the Keras guide "custom train_step in TensorFlow"."""

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=True)
            # mixed_float16 wraps the optimizer in a LossScaleOptimizer.
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(loss, pairs)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=False)
        return self._update_metrics(loss, pairs)

"""Train and test steps on the PyTorch backend (`backward()`)."""

import keras
import torch

from siamesekit.models.train_steps.whole_batch import WholeBatchSteps


class TorchSteps(WholeBatchSteps):
    """`train_step`/`test_step` of the Keras guide "custom train_step in PyTorch"."""

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # Gradients left over from the previous step would be added to.
        self.zero_grad()
        loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=True)
        trainable = self.trainable_variables
        if trainable:
            self.optimizer.scale_loss(loss).backward()
            gradients = [variable.value.grad for variable in trainable]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable)
        with torch.no_grad():
            return self._update_metrics(loss, pairs)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with torch.no_grad():
            loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=False)
            return self._update_metrics(loss, pairs)

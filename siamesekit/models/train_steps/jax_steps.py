"""Train and test steps on the JAX backend (stateless, `jax.value_and_grad`).

The JAX trainer of Keras calls `train_step(state, data)` with the values of
all variables and expects their new values back. The shared, stateful model
code runs inside a `keras.StatelessScope` that maps each variable to the
value it has in this step; what the code assigns (BatchNormalization moving
statistics, seed generator states, metric totals) is read back from the
scope, as Keras' own JAX trainer does.
"""

import jax
import keras

from siamesekit.models.train_steps.whole_batch import WholeBatchSteps


def _values_after(scope, variables):
    values = []
    for variable in variables:
        value = scope.get_current_value(variable)
        values.append(variable.value if value is None else value)
    return values


class JaxSteps(WholeBatchSteps):
    """`train_step`/`test_step` of the Keras guide "custom train_step in JAX"."""

    def _stateless_loss_and_pairs(
        self,
        trainable_values,
        non_trainable_values,
        metrics_values,
        x,
        y,
        sample_weight,
        training,
        optimizer_values=None,
    ):
        mapping = (
            list(zip(self.trainable_variables, trainable_values))
            + list(zip(self.non_trainable_variables, non_trainable_values))
            + list(zip(self.metrics_variables, metrics_values))
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            loss, pairs = self._loss_and_pairs(x, y, sample_weight, training=training)
        non_trainable_values = _values_after(scope, self.non_trainable_variables)
        metrics_values = _values_after(scope, self.metrics_variables)
        scaled_loss = loss
        if optimizer_values is not None:
            # The loss scale of a LossScaleOptimizer is one of its variables.
            optimizer_mapping = list(zip(self.optimizer.variables, optimizer_values))
            with keras.StatelessScope(state_mapping=optimizer_mapping):
                scaled_loss = self.optimizer.scale_loss(loss)
        return scaled_loss, (loss, pairs, non_trainable_values, metrics_values)

    def _stateless_update_metrics(self, metrics_values, loss, pairs):
        mapping = list(zip(self.metrics_variables, metrics_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._update_metrics(loss, pairs)
        return logs, _values_after(scope, self.metrics_variables)

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_values, metrics_values = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        gradient_function = jax.value_and_grad(
            self._stateless_loss_and_pairs, has_aux=True
        )
        (_, aux), gradients = gradient_function(
            trainable,
            non_trainable,
            metrics_values,
            x,
            y,
            sample_weight,
            True,
            optimizer_values,
        )
        loss, pairs, non_trainable, metrics_values = aux
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, gradients, trainable
        )
        logs, metrics_values = self._stateless_update_metrics(
            metrics_values, loss, pairs
        )
        return logs, (trainable, non_trainable, optimizer_values, metrics_values)

    def test_step(self, state, data):
        trainable, non_trainable, metrics_values = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        _, aux = self._stateless_loss_and_pairs(
            trainable, non_trainable, metrics_values, x, y, sample_weight, False
        )
        loss, pairs, non_trainable, metrics_values = aux
        logs, metrics_values = self._stateless_update_metrics(
            metrics_values, loss, pairs
        )
        return logs, (trainable, non_trainable, metrics_values)

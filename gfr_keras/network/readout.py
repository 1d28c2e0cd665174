"""The readout of the L-MNIST network: zero-input steps, the rates it reads, its loss and targets."""

import keras
from keras import ops

from gfr_keras.network.cell import float_or_list


@keras.saving.register_keras_serializable(package="gfr_keras")
class AppendZeroSteps(keras.layers.Layer):
    """`[batch, time, features]` -> `[batch, time + steps, features]` with zero rows appended."""

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, inputs):
        zeros = ops.zeros_like(inputs[:, : self.steps])
        return ops.concatenate([inputs, zeros], axis=1)

    def compute_output_shape(self, input_shape):
        time = None if input_shape[1] is None else input_shape[1] + self.steps
        return (input_shape[0], time, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


class _StepRange(keras.layers.Layer):
    """The base of the layers that take steps `first .. first + count - 1` of a sequence `[batch, time, ...]`."""

    def __init__(self, first, count, **kwargs):
        super().__init__(**kwargs)
        self.first, self.count = int(first), int(count)

    def get_config(self):
        return {**super().get_config(), "first": self.first, "count": self.count}


@keras.saving.register_keras_serializable(package="gfr_keras")
class SelectSteps(_StepRange):
    """`[batch, time, features]` -> steps `first .. first + count - 1`: what the readout reads.

    Slicing the rates before the readout (rather than its logits after) leaves
    the input steps' rates out of the training graph, which lets the loop skip
    storing them for the backward pass (`GFRNetworkRNN(trained_from_step=...)`).
    """

    def call(self, inputs):
        return inputs[:, self.first : self.first + self.count]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.count, *input_shape[2:])


@keras.saving.register_keras_serializable(package="gfr_keras")
class ReadoutSteps(_StepRange):
    """Logits `[batch, time, classes]` -> the readout steps `first .. first + count - 1`.

    Returns `(logits at first [batch, classes], their logits [batch, count, classes],
    mean softmax over them [batch, classes])`.
    """

    def call(self, logits):
        readout = logits[:, self.first : self.first + self.count]
        return logits[:, self.first], readout, ops.mean(ops.softmax(readout, axis=-1), axis=1)

    def compute_output_shape(self, input_shape):
        batch, classes = input_shape[0], input_shape[2]
        return (batch, classes), (batch, self.count, classes), (batch, classes)


@keras.saving.register_keras_serializable(package="gfr_keras")
class ScaleRates(keras.layers.Layer):
    """Rates `[..., units]` (1/ms) times a fixed factor per unit: what the readout reads.

    `factors` is a float or one per unit: 1 (1/ms), 1000 (Hz) or `1 / gamma`
    (each neuron's rate as a fraction of its maximum).
    """

    def __init__(self, factors=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factors = float_or_list(factors)

    def call(self, rates):
        return rates * ops.cast(ops.convert_to_tensor(self.factors), rates.dtype)

    def get_config(self):
        return {**super().get_config(), "factors": self.factors}


@keras.saving.register_keras_serializable(package="gfr_keras")
class ReadoutCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy averaged over readout steps: labels `[batch]`, logits `[batch, steps, classes]`."""

    def __init__(self, name="readout_crossentropy", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        steps = ops.shape(y_pred)[1]
        labels = ops.repeat(ops.expand_dims(ops.cast(ops.reshape(y_true, (-1,)), "int32"), 1), steps, axis=1)
        per_step = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        return ops.mean(per_step, axis=1)


def network_targets(labels, model=None):
    """The target dict `model.fit` wants: the labels for every output (the compiled loss picks its own).

    Outputs of a network from `build_gfr_network` unless `model` is given (e.g. a
    Keras baseline with only `logits` and `probabilities`).
    """
    names = model.output if model is not None else ("logits", "readout_logits", "probabilities")
    return {name: labels for name in names}



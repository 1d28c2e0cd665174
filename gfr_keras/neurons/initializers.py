"""Initializers for GFR parameters."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="gfr_keras")
class OneHot(keras.initializers.Initializer):
    """Zeros except `value` at position `index` of the last axis.

    The spec's fresh neuron has `alpha = [n, 0, ..., 0]` (so `mean(h) = I` at
    first); that is `OneHot(index=0)`, whose default `value` is the size of the
    last axis. The default activation `g(z) = max(0, tanh(z))` has coefficients
    `OneHot(index=1, value=1.0)`.
    """

    def __init__(self, index=0, value=None):
        self.index = int(index)
        self.value = None if value is None else float(value)

    def __call__(self, shape, dtype=None):
        size = shape[-1]
        if not 0 <= self.index < size:
            raise ValueError(
                f"OneHot: index {self.index} is outside the last axis of shape {tuple(shape)}"
            )
        value = float(size) if self.value is None else self.value
        pattern = [value if i == self.index else 0.0 for i in range(size)]
        return ops.broadcast_to(ops.convert_to_tensor(pattern, dtype=dtype), shape)

    def get_config(self):
        return {"index": self.index, "value": self.value}

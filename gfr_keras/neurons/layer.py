"""`GFR`: a recurrent layer of GFR neurons, in the style of `keras.layers.SimpleRNN`."""

import numpy as np
import keras

from gfr_keras._private_api import backend_rnn
from gfr_keras.neurons.cell import GFRCell
from gfr_keras.neurons.input_checks import check_current
from gfr_keras.neurons.step import flatten_traces, unflatten_traces

_CELL_ARGS = (
    "units",
    "bin_size_ms",
    "decay_rates",
    "activation_bin_size_ms",
    "degree",
    "alpha_initializer",
    "beta_initializer",
    "freeze_activation",
    "freeze_alpha_beta",
)


def run_gfr_loop(rnn, sequences, initial_state, mask):
    """`keras.layers.RNN.inner_loop` for an RNN whose cell has `read_weights` and `step`.

    The maths of the generic loop, with two speed-ups: the cell's weights are
    read once per sequence and passed to every step explicitly (as Keras' GRU
    passes its kernels to its backend loop), and without a mask the traces (the
    last state) are carried as `[batch, units, n]` instead of flat (XLA runs that
    about 2.5x faster). With a mask the flat state stays, since Keras' JAX loop
    broadcasts the mask against 2-D states only.
    """
    cell = rnn.cell
    weights = cell.read_weights()

    def step(inputs, states):
        return cell.step(inputs, states, weights)

    states = list(initial_state)
    carry_3d = mask is None
    if carry_3d:
        states[-1] = unflatten_traces(states[-1], cell.units, cell.n_traces)
    last, outputs, states = backend_rnn(
        step,
        sequences,
        states,
        go_backwards=rnn.go_backwards,
        mask=mask,
        unroll=rnn.unroll,
        input_length=sequences.shape[1],
        zero_output_for_mask=rnn.zero_output_for_mask,
        return_all_outputs=rnn.return_sequences,
    )
    states = list(states)
    if carry_3d:
        states[-1] = flatten_traces(states[-1])
    return last, outputs, states


def predict_compiled(layer, inputs):
    """`layer(inputs)` as numpy, through Keras' compiled `predict` (one batch of all the sequences).

    The same values as calling the layer, which outside a compiled function
    runs the time loop one operation at a time: a 1,400-step Noise sweep took
    3.7 s called, 0.3 s here (docs/pipeline.md, "`make demo`'s time").

    Args:
        layer: a built layer, e.g. a `GFR` with `return_sequences=True`.
        inputs: an array `[batch, ...]` in the layer's units (a `GFR`: currents in pA).
    """
    inputs = np.asarray(inputs)
    model_input = keras.Input(inputs.shape[1:], dtype=str(inputs.dtype))
    model = keras.Model(model_input, layer(model_input))
    return np.asarray(model.predict(inputs, batch_size=max(1, len(inputs)), verbose=0))


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFR(keras.layers.RNN):
    """A population of `units` GFR neurons run over time.

    Input: currents `[batch, time, units]` (pA), or `[batch, time, 1]` to drive
    every neuron with the same current. Output: firing rates (1/ms),
    `[batch, time, units]` with `return_sequences=True`, else the last step
    `[batch, units]`. The cell arguments are those of `GFRCell`; the recurrent
    arguments (`return_sequences`, `return_state`, `stateful`, `unroll`, ...) those
    of `keras.layers.RNN`. Masked steps keep the previous state.

    Example:
        >>> layer = GFR(16, bin_size_ms=20, return_sequences=True)
        >>> rates_per_ms = layer(np.full((2, 50, 1), 80.0, "float32"))  # (2, 50, 16)
    """

    def __init__(
        self,
        units,
        bin_size_ms=None,
        decay_rates=None,
        activation_bin_size_ms=None,
        degree=1,
        alpha_initializer=None,
        beta_initializer="zeros",
        freeze_activation=False,
        freeze_alpha_beta=False,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        cell = GFRCell(
            units,
            bin_size_ms=bin_size_ms,
            decay_rates=decay_rates,
            activation_bin_size_ms=activation_bin_size_ms,
            degree=degree,
            alpha_initializer=alpha_initializer,
            beta_initializer=beta_initializer,
            freeze_activation=freeze_activation,
            freeze_alpha_beta=freeze_alpha_beta,
            dtype=kwargs.get("dtype", None),
            trainable=kwargs.get("trainable", True),
            name="gfr_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = [keras.layers.InputSpec(ndim=3)]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        check_current(sequences, "current_pa", ndim=3, units=self.units)
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        return run_gfr_loop(self, sequences, initial_state, mask)

    def simulate(self, current_pa, initial_state=None):
        """Rates `[batch, time, units]` and traces `[batch, time, units, n]`; see `GFRCell.simulate`."""
        return self.cell.simulate(current_pa, initial_state=initial_state)

    def get_params(self):
        """The neurons' parameters as spec section 4 dicts, one per unit."""
        return self.cell.get_params()

    def set_params(self, params_list):
        """Assign spec section 4 dicts, one per unit."""
        self.cell.set_params(params_list)

    @classmethod
    def from_params(cls, params_list, **kwargs):
        """A built layer holding the given neurons (one spec dict per unit).

        `kwargs` go to the constructor (e.g. `return_sequences=True`,
        `freeze_alpha_beta=True`, `dtype="float64"`).
        """
        params_list = list(params_list)
        layer = cls(**GFRCell.params_config(params_list), **kwargs)
        layer.cell.set_params(params_list)
        return layer

    @property
    def units(self):
        return self.cell.units

    @property
    def n_traces(self):
        return self.cell.n_traces

    @property
    def activation(self):
        return self.cell.activation

    def get_config(self):
        cell_config = self.cell.get_config()
        config = {name: cell_config[name] for name in _CELL_ARGS}
        base_config = super().get_config()
        del base_config["cell"]
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

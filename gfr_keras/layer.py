"""`GFR`: a recurrent layer of GFR neurons, in the style of `keras.layers.SimpleRNN`."""

import keras
from keras import ops

from gfr_keras.cell import GFRCell
from gfr_keras.input_checks import check_current

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


def run_gfr_loop(gfr_cell, inner_loop, sequences, initial_state, mask, training):
    """`keras.layers.RNN.inner_loop` for a cell that runs `gfr_cell`, with two speed-ups.

    Same maths as the generic loop: the neurons' weights are read once per
    sequence rather than once per step, and without a mask the traces are
    carried as `[batch, units, n]` instead of the flat public state (XLA runs
    that about 2.5x faster). With a mask the flat state stays, since Keras' JAX
    loop broadcasts the mask against 2-D states only. The traces are the last
    state of `initial_state`.
    """
    gfr_cell._loop.weights = gfr_cell.read_weights()
    try:
        if mask is not None:
            return inner_loop(sequences, initial_state, mask, training=training)
        *others, h0 = initial_state
        h0 = ops.reshape(h0, (-1, gfr_cell.units, gfr_cell.n_traces))
        last, outputs, states = inner_loop(sequences, [*others, h0], mask, training=training)
        *others, h = states
        return last, outputs, [*others, ops.reshape(h, (-1, gfr_cell.units * gfr_cell.n_traces))]
    finally:
        gfr_cell._loop.weights = None


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
        return run_gfr_loop(self.cell, super().inner_loop, sequences, initial_state, mask, training)

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

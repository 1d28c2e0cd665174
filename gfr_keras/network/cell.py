"""`GFRNetworkCell` (one step of the L-MNIST network: projections into a GFR population) and its RNN."""

import numpy as np
import keras
from keras import ops

from gfr_keras.errors import InvalidParameterError
from gfr_keras.neurons.activation import polynomial_rates
from gfr_keras.neurons.cell import GFRCell
from gfr_keras.neurons.step import steady_traces
from gfr_keras.network.loop import run_network_loop
from gfr_keras.network.renamed import CELL_KEYWORDS, renamed_keywords
from gfr_keras.network.weights import NetworkWeights

DEFAULT_DECAY_RATES = [1.0, 0.6321, 0.3935, 0.1813]
READOUT_STEPS = 5
RECURRENT_RATES = ("per_ms", "normalized")
READOUT_RATES = ("per_ms", "hz", "normalized")


def float_or_list(value):
    """A scalar as a float, else each element as a float in a list (JSON-ready for `get_config`)."""
    return float(value) if np.isscalar(value) else [float(x) for x in value]


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRNetworkCell(keras.layers.Layer):
    """One step of the recurrent GFR network: input and recurrent projections into a population.

    Args:
        units: hidden neurons.
        population: the `GFRCell` config of the network's `units` neurons (None: the spec's default neurons);
            the layer built from it is `self.neurons` (`neurons` also in a `.keras` file saved before the
            argument was renamed: `gfr_keras.network.renamed`).
        input_scale: per-unit factor on the input projection (biological
            neurons: `max_current / input_size`), a list or a float.
        recurrent_scale: factor on the recurrent projection (reference
            biological scaling: `1 / units`), a list (one per unit) or a float.
        input_initializer: initializer of `W_in`.
        bias_initializer, recurrent_bias_initializer: initializers of `b_in` and
            `b_rec` (the latter defaults to the former).
        recurrent_initializer: initializer of `W_rec`.
        drive_offset: a fixed current (pA) added to every neuron's drive, a
            list or a float (the neuron scaling centres the drive on the
            neuron's threshold with it; see `neuron_scaling`).
        recurrent_rates: what `W_rec` reads: `"per_ms"` (the rates in 1/ms, as
            the reference) or `"normalized"` (`f / gamma` in [0, 1], each
            neuron's rate as a fraction of its own maximum).
        rest_state: start every sequence at rest under the drive offset: the
            traces at their steady state `h = (alpha o + 1000 beta f0) / lam`,
            `f0 = g(b)`, instead of zero (computed from the current weights, so
            it follows trained neurons).
        freeze_neurons, freeze_activation: train only the projections / keep g fixed.

    Per step, in pA (`s_in`, `s_rec` the scales, `o` the offset)::

        I_t = o + s_in * (W_in x_t + b_in) + s_rec * (W_rec r_{t-1} + b_rec)

    With `s_in = s_rec = ` a current in pA, `W` and `b` are unitless: Adam moves
    the bias by about the learning rate, i.e. the current by `lr * s` pA per
    step, a learning rate in each neuron's own units (what `ScaledAdam`'s
    multipliers do for `beta`).
    """

    def __init__(
        self,
        units,
        population=None,
        input_scale=1.0,
        recurrent_scale=1.0,
        input_initializer="glorot_uniform",
        freeze_neurons=False,
        freeze_activation=False,
        drive_offset=0.0,
        recurrent_rates="per_ms",
        bias_initializer="zeros",
        recurrent_initializer="orthogonal",
        recurrent_bias_initializer=None,
        rest_state=False,
        **kwargs,
    ):
        if population is not None:
            kwargs["population"] = population
        kwargs = renamed_keywords(kwargs, CELL_KEYWORDS)  # the deprecated neurons=
        population = kwargs.pop("population", None)
        super().__init__(**kwargs)
        self.units = int(units)
        population = dict(population or {"units": self.units, "decay_rates": DEFAULT_DECAY_RATES})
        population.update(
            {
                "freeze_alpha_beta": bool(freeze_neurons),
                "freeze_activation": bool(freeze_neurons or freeze_activation),
            }
        )
        population.pop("name", None)
        population.pop("dtype", None)
        population.pop("trainable", None)
        # The attribute (and layer) name `neurons` is the path of the population's weights in a saved `.keras` file.
        self.neurons = GFRCell.from_config({**population, "name": "neurons"})
        if self.neurons.units != self.units:
            raise InvalidParameterError(f"population: {self.neurons.units} neurons for units={self.units}",
                                        parameter="population")
        self.input_scale_init = input_scale if np.isscalar(input_scale) else [float(x) for x in input_scale]
        self.recurrent_scale = float_or_list(recurrent_scale)
        self.drive_offset = float_or_list(drive_offset)
        if recurrent_rates not in RECURRENT_RATES:
            raise ValueError(f"recurrent_rates: expected one of {RECURRENT_RATES}, got {recurrent_rates!r}")
        self.recurrent_rates = recurrent_rates
        self.rest_state = bool(rest_state)
        self.input_initializer = keras.initializers.get(input_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.recurrent_bias_initializer = keras.initializers.get(recurrent_bias_initializer or bias_initializer)
        self.freeze_neurons = bool(freeze_neurons)
        self.freeze_activation = bool(freeze_activation)
        self.state_size = self.neurons.state_size
        self.output_size = self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.input_kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.input_initializer, name="input_kernel")
        self.input_bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="input_bias")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        self.recurrent_bias = self.add_weight(
            shape=(self.units,), initializer=self.recurrent_bias_initializer, name="recurrent_bias"
        )
        self.input_scale = self.add_weight(
            shape=(self.units,), initializer=keras.initializers.Constant(1.0), trainable=False, name="input_scale"
        )
        self.input_scale.assign(np.broadcast_to(np.asarray(self.input_scale_init, "float32"), (self.units,)))
        # Fixed per-unit constants (weights so they travel with the model; not trained).
        self.recurrent_scale_weight = self._constant(self.recurrent_scale, "recurrent_scale")
        self.drive_offset_weight = self._constant(self.drive_offset, "drive_offset_pa")
        if not self.neurons.built:
            self.neurons.build((None, self.units))

    def _constant(self, value, name):
        weight = self.add_weight(shape=(self.units,), initializer="zeros", trainable=False, name=name)
        weight.assign(np.broadcast_to(np.asarray(value, "float32"), (self.units,)))
        return weight

    @property
    def n_traces(self):
        return self.neurons.n_traces

    def read_weights(self):
        """`NetworkWeights`, read once so a loop over time can reuse them."""
        return NetworkWeights(
            input_kernel=ops.convert_to_tensor(self.input_kernel),
            input_bias=ops.convert_to_tensor(self.input_bias),
            recurrent_kernel=ops.convert_to_tensor(self.recurrent_kernel),
            recurrent_bias=ops.convert_to_tensor(self.recurrent_bias),
            input_scale=ops.convert_to_tensor(self.input_scale),
            recurrent_scale=ops.convert_to_tensor(self.recurrent_scale_weight),
            drive_offset_pa=ops.convert_to_tensor(self.drive_offset_weight),
            neurons=self.neurons.read_weights(),
        )

    def step(self, inputs, states, weights):
        """One time step with `NetworkWeights` from `read_weights` (the maths of `call`)."""
        rates = states[0]
        if self.recurrent_rates == "normalized":
            rates = rates / weights.neurons.activation.max_firing_rate_per_ms
        drive = weights.input_scale * (ops.matmul(inputs, weights.input_kernel) + weights.input_bias)
        drive = drive + weights.recurrent_scale * (ops.matmul(rates, weights.recurrent_kernel) + weights.recurrent_bias)
        drive = drive + weights.drive_offset_pa
        return self.neurons.step(drive, states, weights.neurons)

    def call(self, inputs, states, training=False):
        return self.step(inputs, states, self.read_weights())

    def get_initial_state(self, batch_size=None):
        if not self.rest_state:
            return self.neurons.get_initial_state(batch_size)
        neurons = self.neurons.read_weights()
        f0 = polynomial_rates(neurons.activation.threshold_pa, neurons.activation)  # g(b), [units]
        h0 = steady_traces(neurons, ops.convert_to_tensor(self.drive_offset_weight), f0)
        f0 = ops.broadcast_to(ops.expand_dims(f0, 0), (batch_size, self.units))
        h0 = ops.broadcast_to(ops.reshape(h0, (1, self.units * self.n_traces)), (batch_size, self.units * self.n_traces))
        return [ops.cast(f0, self.compute_dtype), ops.cast(h0, self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "population": self.neurons.get_config(),
                "input_scale": self.input_scale_init,
                "recurrent_scale": self.recurrent_scale,
                "input_initializer": keras.initializers.serialize(self.input_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "recurrent_bias_initializer": keras.initializers.serialize(self.recurrent_bias_initializer),
                "drive_offset": self.drive_offset,
                "recurrent_rates": self.recurrent_rates,
                "rest_state": self.rest_state,
                "freeze_neurons": self.freeze_neurons,
                "freeze_activation": self.freeze_activation,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # A `.keras` file saved before the argument was renamed holds the population under "neurons"; its
        # owner cannot change it, so no warning.
        return super().from_config(renamed_keywords(config, CELL_KEYWORDS, warn=False))


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRNetworkRNN(keras.layers.RNN):
    """`keras.layers.RNN` over a `GFRNetworkCell`, with a faster loop.

    Same results as `keras.layers.RNN(cell)` (to float rounding); faster because
    the weights are read and folded once per sequence, the input projection is
    one matmul over the sequence and the traces are carried 3-D (see
    `gfr_keras.network.loop.run_network_loop`).

    Args:
        trained_from_step: `None` (the default) or a step `k`: in training, the
            outputs before step `k` are computed for inspection only and carry
            no gradient (the loop runs steps `< k` without keeping their outputs
            for the backward pass, ~20 % faster). For a model whose loss reads
            only steps `>= k`, as the L-MNIST network's readout steps, the
            gradients are the same.
    """

    def __init__(self, cell, trained_from_step=None, **kwargs):
        super().__init__(cell, **kwargs)
        self.trained_from_step = None if trained_from_step is None else int(trained_from_step)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        return run_network_loop(self, sequences, initial_state, mask, training)

    def get_config(self):
        return {**super().get_config(), "trained_from_step": self.trained_from_step}

"""The GFR neuron (spec section 1) as a Keras RNN cell for a population."""

import numpy as np
import keras
from keras import ops

from gfr_keras.neurons.activation import PolynomialActivation
from gfr_keras.neurons.initializers import OneHot
from gfr_keras.neurons.input_checks import check_current, check_units
from gfr_keras.neurons.params import stack_params, unstack_params
from gfr_keras.neurons.step import NeuronState, NeuronWeights, flatten_traces, gfr_step, unflatten_traces
from gfr_keras.neurons.timescales import decay_rates as decay_rates_for_bin_size


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRCell(keras.layers.Layer):
    """One time step of `units` independent GFR neurons.

    For each neuron, with `n` traces::

        h_t = (1 - lam) * h_{t-1} + alpha * I_t + 1000 * beta * f_{t-1}
        f_t = g(mean(h_t))

    `I_t` is the mean current in the bin (pA), `f` the firing rate (1/ms) and `g`
    a `PolynomialActivation`. `alpha` and `beta` (`[units, n]`) already absorb the
    bin width.

    Args:
        units: number of neurons.
        bin_size_ms: model bin size; sets the decay rates from the spec table when
            `decay_rates` is not given (default 20 ms, `n = 8`).
        decay_rates: explicit `lam`, a list of `n` floats shared by all units or a
            `[units][n]` nested list. Not trainable.
        activation_bin_size_ms: bin size the activation was fitted at, an int or
            a list with one per unit (kept for `get_params`).
        degree: degree of the activation polynomial.
        alpha_initializer: default `[n, 0, ..., 0]` per unit (spec: `mean(h) = I`).
        beta_initializer: default zeros.
        freeze_activation: the activation's `b` and `c` are not trained.
        freeze_alpha_beta: `alpha` and `beta` are not trained.

    Call arguments:
        inputs: currents `[batch, units]` in pA, or `[batch, 1]` to drive every
            unit with the same current.
        states: `[f, h]`: the previous rates `f` `[batch, units]` (first, as
            Keras RNNs expect the previous output to be) and the traces `h`
            flattened to `[batch, units * n]` (a flat state keeps `return_state`
            working in functional models).

    Returns:
        rates `[batch, units]` (1/ms) and the new states.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_units(units)
        if decay_rates is None:
            if bin_size_ms is None:
                bin_size_ms = 20
            decay_rates = decay_rates_for_bin_size(bin_size_ms)
        elif bin_size_ms is not None:
            expected_n = len(decay_rates_for_bin_size(bin_size_ms))
            if np.shape(decay_rates)[-1] != expected_n:
                raise ValueError(
                    f"decay_rates: bin_size_ms={bin_size_ms} implies n={expected_n} traces, "
                    f"got {np.shape(decay_rates)[-1]} rates (pass bin_size_ms=None for a custom set)"
                )
        lam = np.asarray(decay_rates, dtype=np.float64)
        if lam.ndim not in (1, 2) or (lam.ndim == 2 and lam.shape[0] != units) or lam.shape[-1] < 1:
            raise ValueError(
                f"decay_rates: expected shape [n] or [units={units}, n], got {list(lam.shape)}"
            )
        if not np.all((lam >= 0) & (lam <= 1)):
            raise ValueError(f"decay_rates: every rate must lie in [0, 1], got {lam.tolist()}")
        self.units = units
        self.bin_size_ms = bin_size_ms
        self.decay_rates_init = lam.tolist()
        self.n_traces = int(lam.shape[-1])
        self.activation_bin_size_ms = activation_bin_size_ms
        self.degree = degree
        self.freeze_activation = bool(freeze_activation)
        self.freeze_alpha_beta = bool(freeze_alpha_beta)
        self.alpha_initializer = keras.initializers.get(
            OneHot(index=0) if alpha_initializer is None else alpha_initializer
        )
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.activation = PolynomialActivation(
            units,
            degree=degree,
            bin_size_ms=activation_bin_size_ms,
            trainable=not self.freeze_activation,
            dtype=self.dtype_policy,
            name="activation",
        )
        self.state_size = [units, units * self.n_traces]
        self.output_size = units

    def build(self, input_shape):
        if input_shape[-1] not in (None, 1, self.units):
            raise ValueError(
                f"current_pa: last axis must be 1 (one current drives every unit) or "
                f"units={self.units}, got input shape {tuple(input_shape)}"
            )
        shape, trainable = (self.units, self.n_traces), not self.freeze_alpha_beta
        self.alpha = self.add_weight(shape=shape, initializer=self.alpha_initializer, trainable=trainable, name="alpha")
        self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer, trainable=trainable, name="beta")
        lam = np.asarray(self.decay_rates_init)
        self.decay_rates = self.add_weight(
            shape=lam.shape, initializer="zeros", trainable=False, name="decay_rates"
        )
        self.decay_rates.assign(lam)
        self.activation.build((None, self.units))

    def read_weights(self):
        """`NeuronWeights` (units-last layout), read once so a loop over time can reuse them."""
        return NeuronWeights(
            retain=1.0 - ops.convert_to_tensor(self.decay_rates),
            alpha=ops.convert_to_tensor(self.alpha),
            beta=ops.convert_to_tensor(self.beta),
            activation=self.activation.read_weights(),
        )

    def step(self, inputs, states, weights):
        """One time step (`gfr_step`) with `NeuronWeights` from `read_weights` (the maths of `call`).

        `h` may come flat `[batch, units * n]` (the public state) or as
        `[batch, units, n]` (inside GFR's loop, where XLA runs a 3-D carry about
        2.5x faster than one reshaped every step); it is returned the same way.
        """
        f_prev, h_prev = states
        flat = len(h_prev.shape) == 2
        if flat:
            h_prev = unflatten_traces(h_prev, self.units, self.n_traces)
        f, h = gfr_step(weights, inputs, NeuronState(f_prev, h_prev))
        if flat:
            h = flatten_traces(h)
        return f, [f, h]

    def call(self, inputs, states, training=False):
        # A loop over time reads the weights once and calls `step` (see `run_gfr_loop`).
        return self.step(inputs, states, self.read_weights())

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size
        ]

    def simulate(self, current_pa, initial_state=None):
        """Run the neurons over a whole current and keep every trace.

        Args:
            current_pa: `[batch, time, units]` or `[batch, time, 1]` currents (pA).
            initial_state: optional `[f, h]` as in `call`.

        Returns:
            `(rates_per_ms, traces)`: `[batch, time, units]` and
            `[batch, time, units, n]`.
        """
        check_current(current_pa, "current_pa", ndim=3, units=self.units)
        current_pa = ops.cast(current_pa, self.compute_dtype)
        if not self.built:
            self.build(tuple(current_pa.shape[-1:]))
        if initial_state is None:
            initial_state = self.get_initial_state(ops.shape(current_pa)[0])

        weights = self.read_weights()
        f0, h0 = initial_state
        h0 = unflatten_traces(h0, self.units, self.n_traces)

        def step(states, current_t):
            _, new_states = self.step(current_t, states, weights)
            # The states are [f, h]: stacking them over time gives rates and traces.
            # (TensorFlow's scan wants the per-step outputs shaped like the carry.)
            return new_states, new_states

        _, (rates, traces) = ops.scan(step, [f0, h0], ops.moveaxis(current_pa, 1, 0))
        rates = ops.moveaxis(rates, 0, 1)
        traces = ops.moveaxis(traces, 0, 1)
        return rates, traces

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "bin_size_ms": self.bin_size_ms,
                "decay_rates": self.decay_rates_init,
                "activation_bin_size_ms": self.activation_bin_size_ms,
                "degree": self.degree,
                "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
                "beta_initializer": keras.initializers.serialize(self.beta_initializer),
                "freeze_activation": self.freeze_activation,
                "freeze_alpha_beta": self.freeze_alpha_beta,
            }
        )
        return config

    # -- spec parameter dicts -------------------------------------------------

    def set_params(self, params_list):
        """Assign the parameters of spec section 4, one dict per unit."""
        arrays = stack_params(params_list)
        if len(arrays["alpha"]) != self.units:
            raise ValueError(
                f"params: {len(arrays['alpha'])} neurons given for a layer of units={self.units}"
            )
        if arrays["alpha"].shape[1] != self.n_traces:
            raise ValueError(
                f"params: neurons with n={arrays['alpha'].shape[1]} traces (bin_size "
                f"{arrays['bin_size_ms']}) given for a layer of n={self.n_traces}"
            )
        if not self.built:
            self.build((None, 1))
        lam = arrays["decay_rates"]
        if tuple(self.decay_rates.shape) == (self.n_traces,):
            if not np.all(lam == lam[0]):
                raise ValueError(
                    "params: the neurons' decay rates ('ds') differ but this layer shares one "
                    "set; build it with per-unit decay_rates (GFRCell.from_params does)"
                )
            lam = lam[0]
        self.alpha.assign(arrays["alpha"])
        self.beta.assign(arrays["beta"])
        self.decay_rates.assign(lam)
        self.activation.set_arrays(arrays)

    def get_params(self):
        """The parameters of every unit as spec section 4 dicts (a list)."""
        arrays = self.activation.get_arrays()
        arrays.update(
            {
                "alpha": ops.convert_to_numpy(self.alpha),
                "beta": ops.convert_to_numpy(self.beta),
                "decay_rates": ops.convert_to_numpy(self.decay_rates),
                "bin_size_ms": self.bin_size_ms,
            }
        )
        return unstack_params(arrays)

    @staticmethod
    def params_config(params_list):
        """Constructor arguments that fit the given parameter dicts."""
        arrays = stack_params(params_list)
        lam = arrays["decay_rates"]
        shared = bool(np.all(lam == lam[0]))
        return {
            "units": len(arrays["alpha"]),
            "bin_size_ms": arrays["bin_size_ms"],
            "decay_rates": (lam[0] if shared else lam).tolist(),
            "activation_bin_size_ms": arrays["activation_bin_size_ms"],
            "degree": int(arrays["degree"].max()),
        }

    @classmethod
    def from_params(cls, params_list, **kwargs):
        """A built cell holding the given neurons (one spec dict per unit)."""
        params_list = list(params_list)
        cell = cls(**cls.params_config(params_list), **kwargs)
        cell.set_params(params_list)
        return cell

"""The GFR activation g (spec section 2) for a population of neurons."""

from typing import Any, NamedTuple

import numpy as np
import keras
from keras import ops

from gfr_keras.neurons.initializers import OneHot
from gfr_keras.neurons.input_checks import check_units
from gfr_keras.neurons.params import stack_g_params


class ActivationWeights(NamedTuple):
    """The tensors g needs, each `[units]` but `squared_coeff` (`[units, degree + 1]`: `c_k**2`)."""

    threshold_pa: Any
    squared_coeff: Any
    max_current_pa: Any
    max_firing_rate_per_ms: Any


def polynomial_rates(z_pa, weights):
    """`g(z)` in 1/ms for `z_pa` `[..., units]` (pA), with `ActivationWeights` (the degree is their last axis)."""
    x = (z_pa - weights.threshold_pa) / weights.max_current_pa
    squared = weights.squared_coeff
    # Summed in increasing powers like the published code, so values near the
    # threshold, where terms cancel, round the same way.
    poly = squared[:, 0]
    power = None
    for k in range(1, squared.shape[-1]):
        power = x if power is None else power * x
        poly = poly + power * squared[:, k]
    return ops.relu(weights.max_firing_rate_per_ms * ops.tanh(poly))


@keras.saving.register_keras_serializable(package="gfr_keras")
class PolynomialActivation(keras.layers.Layer):
    """`g(z) = max(0, gamma * tanh(sum_k c_k**2 * ((z - b) / sigma)**k))` per unit.

    Each of the `units` neurons has its own threshold `b` (pA) and coefficients
    `c_0..c_degree` (trainable; squared in the forward pass so they act as
    non-negative), and its own fixed `sigma = max_current` (pA) and
    `gamma = max_firing_rate` (1/ms).

    Args:
        units: number of neurons.
        degree: polynomial degree `d` (the published default is 1). Neurons of a
            lower degree carry zero high-order coefficients.
        bin_size_ms: the activation bin size the parameters were fitted at, an
            int or one per unit (kept for `get_params`; it does not enter the maths).
        max_current_pa, max_firing_rate_per_ms: initial `sigma` and `gamma` for
            every unit (`from_params` sets per-unit values).
        threshold_initializer: initializer of `b`, shape `[units]`.
        coeff_initializer: initializer of `c`, shape `[units, degree + 1]`;
            default `c_1 = 1`, others 0, which with the defaults above gives
            `g(z) = max(0, tanh(z))`.

    Input: `z` `[..., units]` in pA. Output: rates `[..., units]` in 1/ms.
    """

    def __init__(
        self,
        units,
        degree=1,
        bin_size_ms=None,
        max_current_pa=1.0,
        max_firing_rate_per_ms=1.0,
        threshold_initializer="zeros",
        coeff_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_units(units)
        if not isinstance(degree, int) or isinstance(degree, bool) or degree < 0:
            raise ValueError(f"degree: expected a non-negative integer, got {degree!r}")
        if not max_current_pa > 0:
            raise ValueError(f"max_current_pa: expected a positive current, got {max_current_pa!r}")
        if not max_firing_rate_per_ms > 0:
            raise ValueError(
                f"max_firing_rate_per_ms: expected a positive rate, got {max_firing_rate_per_ms!r}"
            )
        self.units = units
        self.degree = degree
        self.bin_size_ms = bin_size_ms
        self.max_current_pa_init = float(max_current_pa)
        self.max_firing_rate_per_ms_init = float(max_firing_rate_per_ms)
        self.threshold_initializer = keras.initializers.get(threshold_initializer)
        if coeff_initializer is None:
            coeff_initializer = OneHot(index=min(1, degree), value=1.0)
        self.coeff_initializer = keras.initializers.get(coeff_initializer)

    def build(self, input_shape=None):
        if input_shape is not None and input_shape[-1] not in (None, self.units):
            raise ValueError(
                f"z: last axis must be units={self.units}, got input shape {tuple(input_shape)}"
            )
        self.threshold_pa = self.add_weight(
            shape=(self.units,), initializer=self.threshold_initializer, name="threshold_pa"
        )
        self.poly_coeff = self.add_weight(
            shape=(self.units, self.degree + 1), initializer=self.coeff_initializer, name="poly_coeff"
        )
        self.max_current_pa = self._fixed_weight("max_current_pa", self.max_current_pa_init)
        self.max_firing_rate_per_ms = self._fixed_weight("max_firing_rate_per_ms", self.max_firing_rate_per_ms_init)
        # Per-unit degree, so get_params returns each neuron's own coefficient list.
        self.degree_per_unit = self._fixed_weight("degree_per_unit", self.degree, dtype="int32")

    def _fixed_weight(self, name, value, dtype=None):
        """A `[units]` weight that starts at `value` and is not trained (`set_arrays` assigns each unit's own)."""
        return self.add_weight(
            shape=(self.units,), initializer=keras.initializers.Constant(value), trainable=False, dtype=dtype, name=name
        )

    def read_weights(self):
        """`ActivationWeights`, read once so a loop over time can reuse them."""
        return ActivationWeights(
            threshold_pa=ops.convert_to_tensor(self.threshold_pa),
            squared_coeff=ops.square(self.poly_coeff),
            max_current_pa=ops.convert_to_tensor(self.max_current_pa),
            max_firing_rate_per_ms=ops.convert_to_tensor(self.max_firing_rate_per_ms),
        )

    def call(self, z):
        return polynomial_rates(z, self.read_weights())

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "degree": self.degree,
                "bin_size_ms": self.bin_size_ms,
                "max_current_pa": self.max_current_pa_init,
                "max_firing_rate_per_ms": self.max_firing_rate_per_ms_init,
                "threshold_initializer": keras.initializers.serialize(self.threshold_initializer),
                "coeff_initializer": keras.initializers.serialize(self.coeff_initializer),
            }
        )
        return config

    # -- spec parameter dicts -------------------------------------------------

    def set_arrays(self, arrays):
        """Assign stacked activation arrays (see `gfr_keras.params.stack_params`)."""
        if not self.built:
            self.build()
        units = len(arrays["threshold_pa"])
        if units != self.units:
            raise ValueError(f"params: {units} neurons given for a layer of units={self.units}")
        coeff = np.asarray(arrays["poly_coeff"])
        if coeff.shape[1] > self.degree + 1:
            raise ValueError(
                f"params: g.poly_coeff of degree {coeff.shape[1] - 1} given for a layer of degree {self.degree}"
            )
        padded = np.zeros((self.units, self.degree + 1))
        padded[:, : coeff.shape[1]] = coeff
        self.threshold_pa.assign(arrays["threshold_pa"])
        self.poly_coeff.assign(padded)
        self.max_current_pa.assign(arrays["max_current_pa"])
        self.max_firing_rate_per_ms.assign(arrays["max_firing_rate_per_ms"])
        self.degree_per_unit.assign(np.asarray(arrays["degree"], dtype=np.int32))

    def get_arrays(self):
        """The activation's parameters as numpy arrays (`stack_params` names)."""
        return {
            "threshold_pa": ops.convert_to_numpy(self.threshold_pa),
            "poly_coeff": ops.convert_to_numpy(self.poly_coeff),
            "max_current_pa": ops.convert_to_numpy(self.max_current_pa),
            "max_firing_rate_per_ms": ops.convert_to_numpy(self.max_firing_rate_per_ms),
            "degree": ops.convert_to_numpy(self.degree_per_unit),
            "activation_bin_size_ms": self.bin_size_ms,
        }

    @classmethod
    def from_params(cls, g_params_list, **kwargs):
        """Build from the `g` dicts of spec section 4 (one per unit).

        Each dict: `{"max_current": [sigma], "max_firing_rate": [gamma],
        "poly_coeff": [[c_0..c_d]], "b": [b], "bin_size": A}`.
        """
        arrays = stack_g_params(g_params_list)
        layer = cls(
            len(arrays["threshold_pa"]),
            degree=int(arrays["degree"].max()),
            bin_size_ms=arrays["activation_bin_size_ms"],
            **kwargs,
        )
        layer.build()
        layer.set_arrays(arrays)
        return layer

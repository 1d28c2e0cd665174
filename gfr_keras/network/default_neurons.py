"""Default (unfitted) neurons in a network, and the options that start them elsewhere than the spec's."""

import numpy as np

from gfr_keras.errors import InvalidParameterError
from gfr_keras.network.cell import DEFAULT_DECAY_RATES
from gfr_keras.neurons.timescales import decay_rates

DEFAULT_NEURON_OPTIONS = {
    # "uniform" (the default): alpha_k = lam_k, every trace carries the drive equally at steady state
    # (G = mean(alpha / lam) = 1 as the spec), so the slower traces hold past rows: 0.9455 against
    # 0.916 at 10 epochs (docs/benchmarks.md, issue #15). "fast": the spec's alpha = [n, 0, ..., 0]
    # (only the lam = 1 trace carries the drive: no memory but the recurrence).
    "traces": "uniform",
    # The traces' decay rates: None, the spec's 4 (slowest 1/0.18 = 5.5 steps), or a bin size in ms
    # whose rates the fitted neurons use (20: 8 traces, slowest 1/0.01 = 100 steps, a whole image).
    "bin_size_ms": None,
}


def default_neuron_options(overrides=None):
    """`DEFAULT_NEURON_OPTIONS` with `overrides` over them, checked (the values as given: `bin_size_ms` may be text).

    Raises:
        InvalidParameterError (`parameter="default_neuron_options"`): an unknown option or a value out of range.
    """
    options = {**DEFAULT_NEURON_OPTIONS, **(overrides or {})}
    unknown = set(options) - set(DEFAULT_NEURON_OPTIONS)
    if unknown:
        _bad(f"scaling options for default neurons: unknown {sorted(unknown)}; expected {sorted(DEFAULT_NEURON_OPTIONS)}")
    if options["traces"] not in ("fast", "uniform"):
        _bad(f"traces: expected 'fast' or 'uniform', got {options['traces']!r}")
    if options["bin_size_ms"] not in (None, "none"):
        try:
            decay_rates(int(options["bin_size_ms"]))
        except ValueError as error:
            _bad(f"bin_size_ms (default neurons' traces): {error}")
    return options


def _bad(text):
    raise InvalidParameterError(f"default_neuron_options: {text}", parameter="default_neuron_options")


def default_neurons(units, options=None):
    """`GFRNetworkCell` arguments for `units` default neurons under `DEFAULT_NEURON_OPTIONS` overrides.

    `{"traces": "fast"}` is `{}`: the spec's neurons (as `training_protocol="reference"` uses them).
    """
    options = default_neuron_options(options)
    bin_size_ms, traces = options["bin_size_ms"], options["traces"]
    if bin_size_ms in (None, "none"):
        if traces == "fast":
            return {}
        rates = list(DEFAULT_DECAY_RATES)
    else:
        rates = decay_rates(int(bin_size_ms))
    population = {"units": int(units), "decay_rates": rates}
    if traces == "fast":
        return {"population": population}
    population["alpha_initializer"] = {"class_name": "Constant", "config": {"value": rates}}
    # One row reaches mean(h) as mean(alpha) I: scale the projections so it is still I.
    pulse = float(np.mean(rates))
    return {"population": population, "input_scale": 1.0 / pulse, "recurrent_scale": 1.0 / pulse}


def default_neuron_settings(options=None, scaling="neuron"):
    """The default neurons' options a network is built with, for a run's record (`result.json`).

    `DEFAULT_NEURON_OPTIONS` with `options` over them; the published scaling
    (`scaling="reference"`, as `training_protocol="reference"` sets) builds the spec's
    neurons whatever the options say: `traces="fast"`, the spec's 4 decay rates.
    """
    if scaling == "reference":
        return {"traces": "fast", "bin_size_ms": None}
    return {**DEFAULT_NEURON_OPTIONS, **(options or {})}

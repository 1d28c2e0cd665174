"""Trace decay rates for each bin size (spec section 3)."""

import numpy as np

from gfr_keras.errors import InvalidParameterError

#: Bin sizes (ms) that the published dataset uses for the neuron model.
MODEL_BIN_SIZES_MS = (10, 20, 50, 100)
#: Bin sizes (ms) that the published dataset uses for the activation fit.
ACTIVATION_BIN_SIZES_MS = (20, 100)
#: The six published (bin_size, actv_bin_size) configurations, in the published order.
CONFIGURATIONS = ((10, 20), (10, 100), (20, 20), (20, 100), (50, 100), (100, 100))

_TAUS_MS = (10, 20, 50, 100, 200, 500, 1000, 2000)


def decay_rates(bin_size_ms):
    """Decay rates `lam` of the `n` traces for a bin size.

    `lam[0] = 1` (an instantaneous trace), then `1 - exp(-bin_size / tau)` for every
    `tau` in {10, ..., 2000} ms with `tau >= bin_size`, rounded to float32 as the
    published parameters are.

    Args:
        bin_size_ms: one of `MODEL_BIN_SIZES_MS`.

    Returns:
        list of `n` Python floats (float32 values).
    """
    if bin_size_ms not in MODEL_BIN_SIZES_MS:
        raise ValueError(
            f"bin_size_ms: expected one of {list(MODEL_BIN_SIZES_MS)}, got {bin_size_ms!r}"
        )
    taus = np.array([tau for tau in _TAUS_MS if tau >= bin_size_ms], dtype=np.float64)
    lam = np.concatenate([[1.0], 1.0 - np.exp(-bin_size_ms / taus)]).astype(np.float32)
    return [float(x) for x in lam]


def n_traces(bin_size_ms):
    """Number of traces `n` the spec implies for `bin_size_ms`."""
    return len(decay_rates(bin_size_ms))


def parse_configuration(text):
    """`"20,20"` -> `(20, 20)`: a model bin size and an activation bin size (ms), one of `CONFIGURATIONS`."""
    try:
        configuration = tuple(int(x) for x in str(text).split(","))
    except ValueError:
        configuration = None
    if configuration not in CONFIGURATIONS:
        raise InvalidParameterError(
            f"configuration: expected bin,activation-bin (ms), one of "
            f"{[','.join(map(str, c)) for c in CONFIGURATIONS]}, got {text!r}",
            parameter="configuration",
        )
    return configuration

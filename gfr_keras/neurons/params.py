"""One neuron's parameter dict (spec section 4): validation and (un)stacking.

A parameter dict looks like::

    {"a": [[alpha_1..alpha_n]], "b": [[beta_1..beta_n]], "ds": [lam_1..lam_n],
     "bin_size": 20,
     "g": {"max_current": [sigma], "max_firing_rate": [gamma],
           "poly_coeff": [[c_0..c_d]], "b": [b], "bin_size": 20}}

A population of `units` neurons is the same numbers stacked along a first axis.
"""

import numbers

import numpy as np

from gfr_keras.errors import InputError

from gfr_keras.neurons.timescales import ACTIVATION_BIN_SIZES_MS, MODEL_BIN_SIZES_MS, decay_rates, n_traces


class ParameterError(InputError):
    """A parameter dict or dataset record is malformed; the message names where."""


def _shape_of(value):
    """Shape of a nested list of numbers, or None if it is ragged or not numeric."""
    if isinstance(value, bool) or isinstance(value, numbers.Real):
        return ()
    if not isinstance(value, (list, tuple)):
        return None
    shapes = {_shape_of(item) for item in value}
    if len(shapes) > 1 or None in shapes:
        return None
    inner = shapes.pop() if shapes else ()
    return (len(value),) + inner


def _check_array(value, field, expected_shape, context):
    shape = _shape_of(value)
    if shape is None or (expected_shape is not None and shape != expected_shape):
        got = "a ragged or non-numeric value" if shape is None else f"shape {list(shape)}"
        want = "a numeric nested list" if expected_shape is None else f"shape {list(expected_shape)}"
        raise ParameterError(f"{context}: field '{field}': expected {want}, got {got}")
    flat = np.asarray(value, dtype=np.float64).ravel()
    if any(isinstance(x, bool) for x in np.asarray(value, dtype=object).ravel()):
        raise ParameterError(f"{context}: field '{field}': expected numbers, got booleans")
    if not np.all(np.isfinite(flat)):
        raise ParameterError(f"{context}: field '{field}': contains NaN or infinity")
    return shape


def _check_fields(value, keys, context, field=None, prefix=""):
    """`value` is a dict holding every key of `keys`; `field` names the dict in messages (None: it is the
    record `context` itself), `prefix` goes before each missing key's name."""
    if not isinstance(value, dict):
        where = "" if field is None else f" field '{field}':"
        raise ParameterError(f"{context}:{where} expected a dict, got {type(value).__name__}")
    for key in keys:
        if key not in value:
            raise ParameterError(f"{context}: missing field '{prefix}{key}'")


def _validated_list(items, validate, what, context):
    """`items` as a list, checked to be non-empty and each item validated (`validate(item, "context[i]")`)."""
    items = list(items)
    if not items:
        raise ParameterError(f"{context}: expected at least one {what}, got none")
    for i, item in enumerate(items):
        validate(item, f"{context}[{i}]")
    return items


def _check_bin_size(value, field, allowed, context):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value not in allowed:
        raise ParameterError(
            f"{context}: field '{field}': expected one of {list(allowed)} (ms), got {value!r}"
        )
    return int(value)


def validate_params(params, context="params"):
    """Check one neuron's parameter dict against spec section 4.

    Every key, shape and type is checked, and `n` (the number of traces) must be
    the one `bin_size` implies. Raises `ParameterError` (a `ValueError`) whose
    message starts with `context` and names the field.
    """
    _check_fields(params, ("a", "b", "ds", "bin_size", "g"), context)
    bin_size = _check_bin_size(params["bin_size"], "bin_size", MODEL_BIN_SIZES_MS, context)
    n = n_traces(bin_size)
    _check_array(params["a"], "a", (1, n), context)
    _check_array(params["b"], "b", (1, n), context)
    _check_array(params["ds"], "ds", (n,), context)
    lam = np.asarray(params["ds"], dtype=np.float64)
    if np.any(lam < 0) or np.any(lam > 1):
        raise ParameterError(f"{context}: field 'ds': decay rates must lie in [0, 1], got {lam.tolist()}")
    validate_g_params(params["g"], context, prefix="g.")


def validate_g_params(g, context="g_params", prefix=""):
    """Check an activation dict (the `g` of spec section 4); see `validate_params`."""
    _check_fields(g, ("max_current", "max_firing_rate", "poly_coeff", "b", "bin_size"), context, prefix or "g", prefix)
    _check_bin_size(g["bin_size"], f"{prefix}bin_size", ACTIVATION_BIN_SIZES_MS, context)
    _check_array(g["max_current"], f"{prefix}max_current", (1,), context)
    _check_array(g["max_firing_rate"], f"{prefix}max_firing_rate", (1,), context)
    _check_array(g["b"], f"{prefix}b", (1,), context)
    shape = _check_array(g["poly_coeff"], f"{prefix}poly_coeff", None, context)
    if len(shape) != 2 or shape[0] != 1 or shape[1] < 1:
        raise ParameterError(
            f"{context}: field '{prefix}poly_coeff': expected shape [1, degree + 1], got {list(shape)}"
        )
    if g["max_current"][0] <= 0:
        raise ParameterError(
            f"{context}: field '{prefix}max_current': expected a positive current (pA), got {g['max_current'][0]}"
        )
    if g["max_firing_rate"][0] <= 0:
        raise ParameterError(
            f"{context}: field '{prefix}max_firing_rate': expected a positive rate (1/ms), got {g['max_firing_rate'][0]}"
        )


def stack_g_params(g_params_list, context="g_params"):
    """Stack activation dicts into arrays (the activation part of `stack_params`)."""
    return _stack_validated_g(_validated_list(g_params_list, validate_g_params, "activation dict", context))


def _stack_validated_g(g_params_list):
    activation_bin_sizes = [int(g["bin_size"]) for g in g_params_list]
    # One int when the population shares it (the usual case), else one per unit.
    if len(set(activation_bin_sizes)) == 1:
        activation_bin_sizes = activation_bin_sizes[0]
    degrees = np.array([len(g["poly_coeff"][0]) - 1 for g in g_params_list], dtype=np.int64)
    coeff = np.zeros((len(g_params_list), degrees.max() + 1))
    for i, g in enumerate(g_params_list):
        coeff[i, : degrees[i] + 1] = g["poly_coeff"][0]
    return {
        "max_current_pa": np.array([g["max_current"][0] for g in g_params_list], dtype=np.float64),
        "max_firing_rate_per_ms": np.array(
            [g["max_firing_rate"][0] for g in g_params_list], dtype=np.float64
        ),
        "threshold_pa": np.array([g["b"][0] for g in g_params_list], dtype=np.float64),
        "poly_coeff": coeff,
        "degree": degrees,
        "activation_bin_size_ms": activation_bin_sizes,
    }


def stack_params(params_list, context="params"):
    """Stack the parameter dicts of a population into arrays.

    All neurons must share the model bin size (it fixes `n`); activation bin
    sizes may differ.
    Coefficients of lower-degree neurons are zero-padded to the highest degree;
    since `g` uses `c_k**2`, a zero coefficient contributes nothing and gets a zero
    gradient, so padding changes neither outputs nor training.

    Returns:
        dict of float64 numpy arrays: `alpha`, `beta`, `decay_rates` `[units, n]`;
        `max_current_pa`, `max_firing_rate_per_ms`, `threshold_pa` `[units]`;
        `poly_coeff` `[units, max_degree + 1]`; `degree` int `[units]`; the int
        `bin_size_ms`; and `activation_bin_size_ms`, an int or, where the units
        differ, a list of ints.
    """
    params_list = _validated_list(params_list, validate_params, "parameter dict", context)
    bin_size = params_list[0]["bin_size"]
    for i, params in enumerate(params_list):
        if params["bin_size"] != bin_size:
            raise ParameterError(
                f"{context}[{i}]: a population needs one configuration: expected "
                f"bin_size {bin_size} like {context}[0], got {params['bin_size']}"
            )
    arrays = _stack_validated_g([p["g"] for p in params_list])
    arrays.update(
        {
            "alpha": np.array([p["a"][0] for p in params_list], dtype=np.float64),
            "beta": np.array([p["b"][0] for p in params_list], dtype=np.float64),
            "decay_rates": np.array([p["ds"] for p in params_list], dtype=np.float64),
            "bin_size_ms": int(bin_size),
        }
    )
    return arrays


def unstack_params(arrays):
    """Inverse of `stack_params`: a list of spec parameter dicts (Python floats)."""

    def floats(values):
        return [float(x) for x in np.asarray(values).ravel()]

    units = len(arrays["alpha"])
    activation_bin_sizes = arrays["activation_bin_size_ms"]
    if not isinstance(activation_bin_sizes, (list, tuple)):
        activation_bin_sizes = [activation_bin_sizes] * units
    decay_rates = np.broadcast_to(arrays["decay_rates"], np.shape(arrays["alpha"]))
    params_list = []
    for i in range(units):
        degree = int(arrays["degree"][i])
        params_list.append(
            {
                "a": [floats(arrays["alpha"][i])],
                "b": [floats(arrays["beta"][i])],
                "ds": floats(decay_rates[i]),
                "bin_size": arrays["bin_size_ms"],
                "g": {
                    "max_current": [float(arrays["max_current_pa"][i])],
                    "max_firing_rate": [float(arrays["max_firing_rate_per_ms"][i])],
                    "poly_coeff": [floats(arrays["poly_coeff"][i][: degree + 1])],
                    "b": [float(arrays["threshold_pa"][i])],
                    "bin_size": activation_bin_sizes[i],
                },
            }
        )
    return params_list


#: An activation that passes current through unchanged (g(I) = I for I > 0, in 1/ms per pA):
#: a placeholder for units that will never be trained (cells that failed before fitting).
IDENTITY_G = {"max_current": [1.0], "max_firing_rate": [1.0], "poly_coeff": [[0.0, 1.0]], "b": [0.0], "bin_size": 20}


def fresh_params(g, bin_size_ms):
    """A neuron before fitting (spec section 6): alpha = (n, 0, ..., 0), beta = 0, activation `g`.

    With alpha's weight n on the fastest trace (lambda_1 = 1), the mean of the n traces is
    the current itself, so the untrained neuron's rate is g(current).
    """
    lam = decay_rates(bin_size_ms)
    n = len(lam)
    return {"a": [[float(n)] + [0.0] * (n - 1)], "b": [[0.0] * n], "ds": lam, "bin_size": bin_size_ms, "g": g}

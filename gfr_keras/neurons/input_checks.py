"""Checks on the arguments and tensors handed to GFR layers, with errors that name the argument."""

import numpy as np
import keras
from keras import ops


def concrete_value(x):
    """`x` as a numpy array when it holds values now (eager), else None (symbolic/traced)."""
    if isinstance(x, np.ndarray):
        return x
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            return None
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # a symbolic tensor or a JAX tracer holds no values yet
        return None


def check_units(units):
    """`units` (a layer's number of neurons) is a positive int, else `ValueError` naming it."""
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise ValueError(f"units: expected a positive integer, got {units!r}")


def check_current(x, name="current_pa", ndim=3, units=None):
    """Validate an injected current (pA).

    Checks the rank, a floating dtype, the last axis (1 or `units`) and, when the
    values are concrete, that they are finite. Raises `ValueError` naming `name`.
    """
    shape = tuple(x.shape)
    if len(shape) != ndim:
        layout = "[batch, time, units]" if ndim == 3 else "[batch, units]"
        raise ValueError(f"{name}: expected a rank-{ndim} tensor {layout}, got shape {shape}")
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise ValueError(f"{name}: expected a floating-point tensor (pA), got dtype {dtype}")
    if units is not None and shape[-1] not in (None, 1, units):
        raise ValueError(
            f"{name}: last axis must be 1 (one current drives every unit) or units={units}, "
            f"got {shape[-1]}"
        )
    values = concrete_value(x)
    if values is not None and not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0].tolist()
        raise ValueError(f"{name}: contains NaN or infinity (first at index {bad})")

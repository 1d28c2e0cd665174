"""What a cell page plots, computed with the project's model code, a configuration at a time.

All cells of one configuration go through one population layer (one unit per
cell), so a 2,333-cell report costs a few layer calls, not thousands.
"""

import numpy as np

import gfr_keras as gk
from gfr_keras.fitting.data import activation_pairs, stimulus_groups
from gfr_keras.neurons.kernels import kernel_over_time as kernel

ACTIVATION_POINTS = 96
KERNEL_SPAN_MS = 2000  # the longest trace time constant
NOISE_STIMULUS = "Noise 2"
_UNITS_PER_CALL = 256  # bounds the memory of one batched simulation


def compact(values, digits=4):
    """Floats rounded to `digits` significant digits, so per-cell files stay small."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).ravel()]


def fi_points(processed_cells, activation_bin_size_ms):
    """Long Square onset (I, f) pairs per cell, as the activation fit sees them (pA, Hz)."""
    points = []
    for cell in processed_cells:
        current, rate, mask = activation_pairs([cell], activation_bin_size_ms)
        real = mask[:, 0] > 0
        points.append({"current_pa": compact(current[real, 0]), "rate_hz": compact(1000 * rate[real, 0])})
    return points


def activation_curves(records, fi):
    """g(I) sampled over each cell's current range: `[{"current_pa", "rate_hz"}]`.

    Args:
        records: dataset records of one configuration.
        fi: per record its f-I points or None; the range covers them too.
    """
    g_params = [record["params"]["g"] for record in records]
    low, high = [], []
    for g, points in zip(g_params, fi):
        currents = points["current_pa"] if points and points["current_pa"] else [0.0]
        low.append(min(0.0, min(currents)))
        high.append(max(1.25 * g["max_current"][0], 1.1 * max(currents), g["b"][0] + 1.0))
    fraction = np.linspace(0.0, 1.0, ACTIVATION_POINTS)[:, None]
    current_pa = np.asarray(low)[None, :] + fraction * (np.asarray(high) - np.asarray(low))[None, :]
    # Evaluate g at the currents as written to the page, so every drawn point is exact.
    current_pa = np.reshape(compact(current_pa), current_pa.shape)
    activation = gk.PolynomialActivation.from_params(g_params, dtype="float64")
    rate_hz = 1000 * np.asarray(activation(current_pa))  # [points, units]
    return [{"current_pa": compact(current_pa[:, u]), "rate_hz": compact(rate_hz[:, u])} for u in range(len(records))]


def kernels(records, bin_size_ms):
    """alpha and beta kernels over lags 0..2 s: alpha in pA/pA, beta in pA/Hz.

    The rate enters as `1000 * beta * f` with f in 1/ms, i.e. `beta * f_Hz`, so
    beta's kernel is in pA per Hz of the cell's own rate.
    """
    steps = KERNEL_SPAN_MS // bin_size_ms
    lag_ms = compact(np.arange(steps) * bin_size_ms)
    out = []
    for record in records:
        params = record["params"]
        out.append({
            "lag_ms": lag_ms,
            "alpha": compact(kernel(params["a"][0], params["ds"], steps)),
            "beta_pa_per_hz": compact(kernel(params["b"][0], params["ds"], steps)),
        })
    return out


def noise_predictions(records, processed_cells, bin_size_ms):
    """Noise 2: recorded repeats, PSTH and the simulated GFR rate per cell (Hz), and the EVR.

    The model runs on each cell's first Noise 2 repeat (the repeats share one
    frozen current), like the fit's test EVR. Cells without Noise 2 get None.
    """
    from gfr_keras.neurons.layer import predict_compiled

    out = []
    for start in range(0, len(records), _UNITS_PER_CALL):
        chunk_records = records[start : start + _UNITS_PER_CALL]
        chunk_cells = processed_cells[start : start + _UNITS_PER_CALL]
        group = stimulus_groups(chunk_cells, bin_size_ms).get(NOISE_STIMULUS)
        if group is None:
            out.extend([None] * len(chunk_records))
            continue
        layer = gk.population_from_records(chunk_records, return_sequences=True, dtype="float64")
        predicted = predict_compiled(layer, group["current_pa"][:1].astype("float64"))[0]  # [time, units]
        for unit in range(len(chunk_records)):
            out.append(_noise_entry(group, predicted, unit, bin_size_ms))
    return out


def _noise_entry(group, predicted, unit, bin_size_ms):
    n, length = int(group["n_sweeps"][unit]), int(group["length"][unit])
    if n < 1 or length < 1:
        return None
    trials = group["rate_per_ms"][:n, :length, unit].astype(np.float64)
    prediction = predicted[:length, unit]
    try:
        evr = gk.explained_variance_ratio(trials, prediction)
    except ValueError:
        evr = None  # bad input (shapes, NaN): no EVR to show
    return {
        "time_s": compact(np.arange(length) * bin_size_ms / 1000),
        "repeats_hz": [compact(1000 * trial) for trial in trials],
        "psth_hz": compact(1000 * trials.mean(axis=0)),
        "predicted_hz": compact(1000 * prediction),
        "evr": None if evr is None or evr != evr else float(evr),
    }

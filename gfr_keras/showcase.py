"""A first look at GFR neurons: the reference neurons driven by one test current (`gfr demo`)."""

import numpy as np

from gfr_keras.dataset.lookup import population_from_records
from gfr_keras.dataset.records import REFERENCE_DATASET_PATH, read_dataset
from gfr_keras.errors import InvalidParameterError

STEP_MS = (500, 2500)
NOISE_MS = (2500, 4500)


def demo_current_pa(duration_ms=5000, resolution_ms=1, seed=0):
    """A 5 s test current at 1 ms resolution (pA): rest, a 150 pA step, noise, rest.

    Returns:
        `(time_ms [T], current_pa [T])`.
    """
    time_ms = np.arange(0, duration_ms, resolution_ms, dtype=np.float64)
    current = np.zeros_like(time_ms)
    current[(time_ms >= STEP_MS[0]) & (time_ms < STEP_MS[1])] = 150.0
    noisy = (time_ms >= NOISE_MS[0]) & (time_ms < NOISE_MS[1])
    rng = np.random.default_rng(seed)
    # Noise smoothed over ~20 ms so that every bin size sees some of it.
    white = rng.normal(0.0, 1.0, noisy.sum() + 40)
    smooth = np.convolve(white, np.ones(40) / np.sqrt(40), mode="valid")[: noisy.sum()]
    current[noisy] = 100.0 + 60.0 * smooth
    return time_ms, current


def bin_current(time_ms, current_pa, bin_size_ms):
    """Mean current in whole bins of `bin_size_ms`: `(bin_start_ms [B], current_pa [B])`."""
    step = time_ms[1] - time_ms[0]
    per_bin = int(round(bin_size_ms / step))
    n_bins = len(current_pa) // per_bin
    binned = current_pa[: n_bins * per_bin].reshape(n_bins, per_bin).mean(axis=1)
    return time_ms[: n_bins * per_bin : per_bin], binned


def _mean_in(result, window_ms):
    inside = (result["time_ms"] >= window_ms[0]) & (result["time_ms"] < window_ms[1])
    return float(result["rate_per_ms"][inside].mean())


def drive_reference_neurons(records=None):
    """Drive each neuron (default: the six reference neurons) with `demo_current_pa`.

    Neurons of one bin size run together as one `GFR` population.

    Returns:
        `(time_ms, current_pa, results)`: the 1 ms current and, per neuron, a dict with
        its `record`, `time_ms` / `current_pa` / `rate_per_ms` per bin, `traces`
        `[bins, n]`, and its mean rate in the step and the noise and its peak (1/ms).
    """
    if records is None:
        records = read_dataset(REFERENCE_DATASET_PATH)
    if not records:
        raise InvalidParameterError("records: expected at least one neuron's record, got none", parameter="records")
    time_ms, current_pa = demo_current_pa()
    results = []
    for bin_size_ms in sorted({r["bin_size"] for r in records}):
        members = [r for r in records if r["bin_size"] == bin_size_ms]
        layer = population_from_records(members, return_sequences=True)
        bin_start_ms, binned = bin_current(time_ms, current_pa, bin_size_ms)
        rates, traces = (np.asarray(x)[0] for x in layer.simulate(binned[None, :, None].astype("float32")))
        for unit, record in enumerate(members):
            result = {"record": record, "time_ms": bin_start_ms, "current_pa": binned,
                      "rate_per_ms": rates[:, unit], "traces": traces[:, unit, :]}
            result.update(step_rate_per_ms=_mean_in(result, STEP_MS), noise_rate_per_ms=_mean_in(result, NOISE_MS),
                          peak_rate_per_ms=float(result["rate_per_ms"].max()))
            results.append(result)
    return time_ms, current_pa, results

"""From one recorded sweep to binned current and firing rate (spec section 5).

Plain numpy; `gfr_keras.ephys.allen` feeds it sweeps read with allensdk.
"""

import numpy as np

#: Stimuli the model uses; other sweeps are ignored.
STIMULUS_NAMES = ("Long Square", "Ramp", "Noise 1", "Noise 2")
#: Stimuli without which a cell cannot be fitted and tested.
REQUIRED_STIMULI = ("Long Square", "Noise 1", "Noise 2")
#: Bin sizes (ms) every processed sweep is binned at (model and activation bins).
BIN_SIZES_MS = (10, 20, 50, 100)


def analysis_window(stimulus_name, current_pa, response_mv, index_range):
    """The samples `[start, stop)` of a sweep that enter the binned data.

    `index_range` (from allensdk) excludes the test pulse. For 'Ramp' sweeps the
    end is cut at the last non-zero voltage sample and at the current's peak,
    whichever is earlier (the recording stops mid-ramp). Except for 'Test'
    sweeps, the window then starts at the first sample where the current changes
    (the stimulus onset); data before it is dropped.

    Returns:
        `(start, stop)` sample indices.

    Raises:
        ValueError if the current never changes inside the window, or a 'Ramp'
        sweep's voltage is zero in every sample (no recording to cut at: the
        published `np.max(np.nonzero(V))` raises there too, and the cell is dropped).
    """
    start, stop = int(index_range[0]), int(index_range[1])
    if stimulus_name == "Ramp":
        peak = int(np.argmax(current_pa))
        nonzero = np.flatnonzero(response_mv)
        if len(nonzero) == 0:
            raise ValueError(f"Ramp sweep: the voltage is 0 mV in all {len(response_mv)} samples (no recorded response)")
        stop = min(stop, int(nonzero[-1]))
        if peak > start:
            stop = min(stop, peak)
    if stimulus_name != "Test":
        changes = np.flatnonzero(np.diff(current_pa[start:stop]))
        if len(changes) == 0:
            raise ValueError(f"{stimulus_name} sweep: the current never changes after the test pulse")
        start += int(changes[0])
    return start, stop


def bin_recorded_sweep(stimulus_name, current_pa, response_mv, spike_times_s, sampling_rate_hz, index_range, bin_sizes_ms):
    """One recorded sweep windowed (`analysis_window`) and binned at every size (`bin_sweep`).

    Returns:
        `(binned, (start, stop))`: the processed-cell sweep dict (`stimulus_name`,
        `sampling_rate_hz`, `current_pa` and `rate_per_ms` keyed by bin size) and the window.

    Raises:
        ValueError where the stimulus has no analysis window (see `analysis_window`).
    """
    start, stop = analysis_window(stimulus_name, current_pa, response_mv, index_range)
    binned = {"stimulus_name": stimulus_name, "sampling_rate_hz": sampling_rate_hz, "current_pa": {}, "rate_per_ms": {}}
    for bin_size in bin_sizes_ms:
        current, rate = bin_sweep(current_pa, spike_times_s, sampling_rate_hz, start, stop, bin_size)
        binned["current_pa"][bin_size] = current
        binned["rate_per_ms"][bin_size] = rate
    return binned, (start, stop)


def bin_sweep(current_pa, spike_times_s, sampling_rate_hz, start, stop, bin_size_ms):
    """Mean current and firing rate in whole bins of `bin_size_ms`.

    A bin holds `k = int(bin_size_ms * 0.001 * sampling_rate_hz)` samples; the
    last partial bin is dropped. A spike belongs to sample `int(t * rate)`. The
    rate is the number of spikes in the bin divided by `bin_size_ms`, so
    `sum(rate) * bin_size_ms` is the number of spikes in the binned window.

    Args:
        current_pa: `[samples]` injected current (pA).
        spike_times_s: spike times (s from the sweep start).
        sampling_rate_hz: samples per second.
        start, stop: the window (see `analysis_window`).
        bin_size_ms: bin width (ms).

    Returns:
        `(current_pa [bins], rate_per_ms [bins])`, float64.
    """
    samples_per_bin = int(bin_size_ms * 0.001 * sampling_rate_hz)
    if samples_per_bin < 1:
        raise ValueError(
            f"bin_size_ms={bin_size_ms} is shorter than one sample at {sampling_rate_hz} Hz"
        )
    n_bins = max(0, (stop - start) // samples_per_bin)
    end = start + n_bins * samples_per_bin
    current = np.asarray(current_pa[start:end], dtype=np.float64)
    current = current.reshape(n_bins, samples_per_bin).mean(axis=1)
    # One spike per sample at most, as a spike train sampled at the recording rate.
    spike_samples = np.unique((np.asarray(spike_times_s, dtype=np.float64) * sampling_rate_hz).astype(np.int64))
    inside = spike_samples[(spike_samples >= start) & (spike_samples < end)]
    counts = np.bincount((inside - start) // samples_per_bin, minlength=n_bins)
    return current, counts.astype(np.float64) / bin_size_ms


def max_firing_rate_per_ms(spike_times_per_sweep):
    """The cell's maximum firing rate: max over sweeps of 1 / ISI, in 1/ms.

    Args:
        spike_times_per_sweep: iterable of spike-time arrays (s), one per sweep.

    Returns:
        float; 0.0 when no sweep has two spikes.
    """
    best = 0.0
    for spike_times in spike_times_per_sweep:
        spike_times = np.sort(np.asarray(spike_times, dtype=np.float64))
        if len(spike_times) < 2:
            continue
        isi_ms = np.diff(spike_times) * 1000.0
        isi_ms = isi_ms[isi_ms > 0]
        if len(isi_ms):
            best = max(best, float(1.0 / isi_ms.min()))
    return best

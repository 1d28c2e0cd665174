"""Spike times from a voltage trace, by the rule of Allen's feature extractor.

Allen's NWB files store, for each sweep, the threshold times of the spikes that
its feature extractor finds (allensdk `ephys.ephys_extractor.EphysSweepFeatureExtractor`
with its defaults; ipfx `run_feature_extraction.embed_spike_times` writes
`threshold_t`). A file that stores no spike times gets them here, by the same
rule, written independently of allensdk and tested against it
(tests/test_nwb2.py):

1. dV/dt (mV/ms) of the voltage low-passed by a 4-pole Bessel filter at 10 kHz,
   forward and backward (`scipy.signal.filtfilt`). At sampling rates of 20 kHz or
   less, where a 10 kHz cut-off is impossible (allensdk refuses them), the
   cut-off is 40 % of the sampling rate.
2. Candidates: where dV/dt crosses 20 mV/ms upward; a candidate counts only if
   dV/dt went below 0 since the previous one.
3. Peak: the highest voltage from a candidate to the next one (or the end).
   A peak after which dV/dt never goes below 0 before the next candidate merges
   the two. A spike needs a peak of at least -30 mV and at least 2 mV above its
   candidate's voltage.
4. Threshold: going back from the upstroke (the largest dV/dt between candidate
   and peak), the first sample whose dV/dt is at most 5 % of the mean upstroke
   of the sweep (not past the previous upstroke).
5. Overlapping spikes (a threshold at or before the previous peak + 1 sample)
   merge; a spike whose peak comes 5 ms or more after its threshold gets its
   threshold searched again within 5 ms of the peak, or else its peak searched
   within 10 ms of the threshold, or else is dropped.

The spike time is the threshold sample's time, `index / sampling_rate_hz` (s
from the first sample of `voltage_mv`).
"""

import numpy as np

DV_CUTOFF_MV_PER_MS = 20.0
MIN_PEAK_MV = -30.0
MIN_HEIGHT_MV = 2.0
MAX_INTERVAL_S = 0.005
THRESHOLD_FRACTION = 0.05
FILTER_KHZ = 10.0


def voltage_derivative(voltage_mv, sampling_rate_hz, filter_khz=FILTER_KHZ):
    """dV/dt in mV/ms `[samples - 1]` of the Bessel-filtered voltage (see the module's rule 1)."""
    from scipy import signal

    cutoff_hz = min(filter_khz * 1e3, 0.4 * sampling_rate_hz)
    b, a = signal.bessel(4, cutoff_hz / (sampling_rate_hz / 2.0), "low")
    filtered = signal.filtfilt(b, a, np.asarray(voltage_mv, dtype=np.float64))
    return np.diff(filtered) * (sampling_rate_hz * 1e-3)


def _candidates(dvdt):
    crossings = np.flatnonzero(np.diff((dvdt >= DV_CUTOFF_MV_PER_MS).astype(np.int8)) == 1)
    if len(crossings) <= 1:
        return crossings
    # Compared with the previous crossing, kept or not, as Allen's extractor does.
    keep = [True] + [bool(np.any(dvdt[previous:current] < 0)) for previous, current in zip(crossings[:-1], crossings[1:])]
    return crossings[np.array(keep)]


def _peaks(voltage_mv, starts):
    bounds = np.append(starts, len(voltage_mv) - 1)
    return np.array([start + int(np.argmax(voltage_mv[start:stop])) for start, stop in zip(bounds[:-1], bounds[1:])], dtype=np.int64)


def _filtered(voltage_mv, dvdt, starts, peaks):
    """Merge peaks not followed by a falling voltage; keep peaks >= -30 mV, >= 2 mV high."""
    falls = [bool(np.any(dvdt[peak:start] < 0)) for peak, start in zip(peaks[:-1], starts[1:])]
    peaks = peaks[np.array(falls + [True])]
    starts = starts[np.array([True] + falls)]
    keep = (voltage_mv[peaks] >= MIN_PEAK_MV) & (voltage_mv[peaks] - voltage_mv[starts] >= MIN_HEIGHT_MV)
    return starts[keep], peaks[keep]


def _upstrokes(dvdt, starts, peaks):
    return np.array([start + int(np.argmax(dvdt[start:peak])) for start, peak in zip(starts, peaks)], dtype=np.int64)


def _thresholds(dvdt, upstrokes, target):
    thresholds = []
    for upstroke, previous in zip(upstrokes, np.append(0, upstrokes[:-1])):
        below = np.flatnonzero(dvdt[upstroke:previous:-1] <= target)
        thresholds.append(previous if len(below) == 0 else upstroke - below[0])
    return np.array(thresholds, dtype=np.int64)


def _without_overlaps(thresholds, peaks, upstrokes):
    overlaps = np.flatnonzero(thresholds[1:] <= peaks[:-1] + 1)
    if len(overlaps) == 0:
        return thresholds, peaks, upstrokes
    return np.delete(thresholds, overlaps + 1), np.delete(peaks, overlaps), np.delete(upstrokes, overlaps)


def _checked_intervals(voltage_mv, dvdt, thresholds, peaks, upstrokes, rate):
    """Rule 5 for spikes whose peak is 5 ms or more after the threshold."""
    max_samples = MAX_INTERVAL_S * rate
    late = [i for i in range(len(thresholds)) if peaks[i] - thresholds[i] >= max_samples - 1e-9]
    if not late:
        return thresholds
    target = THRESHOLD_FRACTION * dvdt[upstrokes].mean()
    dropped = []
    for i in late:
        earliest = int(np.ceil(peaks[i] - max_samples - 1e-9))
        below = np.flatnonzero(dvdt[upstrokes[i]:earliest:-1] <= target)
        if len(below):
            thresholds[i] = upstrokes[i] - below[0]
            continue
        window_end = int(np.ceil(thresholds[i] + 2 * max_samples - 1e-9))
        new_peak = thresholds[i] + int(np.argmax(voltage_mv[thresholds[i]:window_end]))
        before_next = i == len(thresholds) - 1 or new_peak < thresholds[i + 1]
        if new_peak - thresholds[i] < max_samples - 1e-9 and before_next:
            peaks[i] = new_peak
        else:
            dropped.append(i)
    return np.delete(thresholds, dropped)


def detect_spike_times(voltage_mv, sampling_rate_hz, filter_khz=FILTER_KHZ):
    """Spike (threshold) times in s from the first sample, by Allen's extractor's rule (module docstring).

    Args:
        voltage_mv: `[samples]` membrane potential (mV), finite: the recorded part of a sweep.
        sampling_rate_hz: samples per second.

    Returns:
        float64 `[spikes]`, increasing.
    """
    voltage_mv = np.asarray(voltage_mv, dtype=np.float64)
    if len(voltage_mv) < 16:  # too short for the filter; no spike fits in it anyway
        return np.zeros(0)
    dvdt = voltage_derivative(voltage_mv, sampling_rate_hz, filter_khz)
    starts = _candidates(dvdt)
    if len(starts) == 0:
        return np.zeros(0)
    starts, peaks = _filtered(voltage_mv, dvdt, starts, _peaks(voltage_mv, starts))
    if len(starts) == 0:
        return np.zeros(0)
    upstrokes = _upstrokes(dvdt, starts, peaks)
    thresholds = _thresholds(dvdt, upstrokes, THRESHOLD_FRACTION * dvdt[upstrokes].mean())
    thresholds, peaks, upstrokes = _without_overlaps(thresholds, peaks, upstrokes)
    thresholds = _checked_intervals(voltage_mv, dvdt, thresholds, peaks.copy(), upstrokes, float(sampling_rate_hz))
    return thresholds.astype(np.float64) / float(sampling_rate_hz)

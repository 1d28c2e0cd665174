"""Binning of one sweep (spec section 5), on hand-made sweeps with known answers."""

import numpy as np
import pytest

from gfr_keras.ephys.binning import analysis_window, bin_sweep, max_firing_rate_per_ms

RATE_HZ = 10_000


def square_sweep(onset=10_000, length=30_000, amplitude=100.0):
    current = np.zeros(length)
    current[200:300] = -20.0  # test pulse, before index_range
    current[onset : onset + 10_000] = amplitude
    return current


def test_window_starts_at_onset_after_the_test_pulse():
    current = square_sweep()
    start, stop = analysis_window("Long Square", current, np.ones_like(current), (1000, 29_999))
    # np.diff is non-zero between samples 9999 and 10000: the window starts at 9999.
    assert (start, stop) == (9_999, 29_999)


def test_test_sweeps_keep_the_whole_index_range():
    current = square_sweep()
    assert analysis_window("Test", current, np.ones_like(current), (1000, 5000)) == (1000, 5000)


def test_constant_current_is_an_error():
    with pytest.raises(ValueError, match="Noise 1 sweep: the current never changes"):
        analysis_window("Noise 1", np.zeros(100), np.ones(100), (10, 90))


def test_ramp_end_is_cut_at_the_peak_or_the_last_voltage_sample():
    current = np.zeros(20_000)
    current[1000:15_000] = np.linspace(0, 300, 14_000)  # 0 at 1000, rising from 1001; peak at 14_999
    voltage = np.full(20_000, -70.0)
    voltage[16_000:] = 0.0  # recording stopped
    assert analysis_window("Ramp", current, voltage, (500, 19_999)) == (1000, 14_999)
    voltage[12_000:] = 0.0  # the recording stops before the peak
    assert analysis_window("Ramp", current, voltage, (500, 19_999)) == (1000, 11_999)


@pytest.mark.parametrize("bin_size_ms", [10, 20, 50, 100])
def test_binning_conserves_spikes_and_averages_current(bin_size_ms):
    rng = np.random.default_rng(bin_size_ms)
    current = rng.normal(100, 20, 25_000)
    spike_times = np.sort(rng.uniform(0, 2.5, 80))
    start, stop = 1_234, 24_321
    binned_current, rate = bin_sweep(current, spike_times, RATE_HZ, start, stop, bin_size_ms)
    k = bin_size_ms * RATE_HZ // 1000
    n_bins = (stop - start) // k
    assert binned_current.shape == rate.shape == (n_bins,)
    np.testing.assert_allclose(binned_current[3], current[start + 3 * k : start + 4 * k].mean())
    samples = (spike_times * RATE_HZ).astype(int)
    expected = np.sum((samples >= start) & (samples < start + n_bins * k))
    assert rate.sum() * bin_size_ms == pytest.approx(expected)
    counts = rate * bin_size_ms
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # whole spikes per bin


def test_spike_on_a_bin_edge_goes_to_the_later_bin():
    _, rate = bin_sweep(np.zeros(1000), [0.02, 0.0199], RATE_HZ, 0, 1000, 20)
    np.testing.assert_array_equal(rate * 20, [1, 1, 0, 0, 0])


def test_max_firing_rate_is_the_shortest_isi():
    rate = max_firing_rate_per_ms([[0.1, 0.2, 0.205], [], [1.0], [0.5, 0.51]])
    assert rate == pytest.approx(1 / 5.0)  # 5 ms ISI -> 0.2 per ms
    assert max_firing_rate_per_ms([[0.3], []]) == 0.0

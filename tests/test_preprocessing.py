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


def test_a_ramp_without_recorded_voltage_is_an_error():
    """The published `np.max(np.nonzero(V))` raises on an all-zero Ramp voltage and the cell is dropped."""
    current = np.zeros(2_000)
    current[500:1_500] = np.linspace(0, 100, 1_000)
    with pytest.raises(ValueError, match="Ramp sweep: the voltage is 0 mV in all 2000 samples"):
        analysis_window("Ramp", current, np.zeros(2_000), (100, 1_999))
    assert analysis_window("Long Square", current, np.zeros(2_000), (100, 1_999)) == (500, 1_999)  # only the Ramp is cut at V


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


class _FakeDataSet:
    """allensdk's `NwbDataSet` interface over hand-made sweeps: `{number: (name, rate_hz, current_pa, spike_times_s)}`."""

    def __init__(self, sweeps):
        self.sweeps = sweeps

    def get_sweep_numbers(self):
        return list(self.sweeps)

    def get_sweep_metadata(self, number):
        return {"aibs_stimulus_name": self.sweeps[number][0].encode()}

    def get_sweep(self, number):
        _, rate, current, _ = self.sweeps[number]
        return {"stimulus": current * 1e-12, "response": np.full(len(current), -0.07), "sampling_rate": rate,
                "index_range": (0, len(current) - 1)}

    def get_spike_times(self, number):
        return np.asarray(self.sweeps[number][3])


class _FakeCache:
    def __init__(self, sweeps):
        self.data_set = _FakeDataSet(sweeps)

    def get_ephys_data(self, cell_id):
        return self.data_set


def _step(rate_hz, seconds=1.0):
    current = np.zeros(int(seconds * rate_hz))
    current[len(current) // 10 :] = 100.0
    return current


def _cell_sweeps(noise_rate_hz=RATE_HZ):
    return {
        1: ("Test", RATE_HZ, _step(RATE_HZ), [0.1, 0.102]),  # 1/ISI = 0.5 /ms, not a model stimulus
        2: ("Long Square", RATE_HZ, _step(RATE_HZ), [0.3, 0.31, 0.4]),  # 0.1 /ms
        3: ("Noise 1", noise_rate_hz, _step(noise_rate_hz), [0.5, 0.52]),  # 0.05 /ms
        4: ("Noise 2", noise_rate_hz, _step(noise_rate_hz), [0.6, 0.625]),
    }


def test_gamma_counts_every_sweep_by_default_and_fitted_sweeps_on_request():
    from gfr_keras.ephys.allen import process_cell

    cache = _FakeCache(_cell_sweeps())
    assert process_cell(cache, 1)["max_firing_rate_per_ms"] == pytest.approx(0.5)  # published: every sweep
    assert process_cell(cache, 1, max_rate_sweeps="fitted")["max_firing_rate_per_ms"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="max_rate_sweeps: expected one of"):
        process_cell(cache, 1, max_rate_sweeps="some")


def test_sweeps_with_different_sampling_rates_are_each_binned_at_their_own(tmp_path):
    from gfr_keras.ephys.allen import process_cell
    from gfr_keras.ephys.processed import read_processed_cell, write_processed_cell

    cell = process_cell(_FakeCache(_cell_sweeps(noise_rate_hz=20_000)), 7, bin_sizes_ms=(10, 20))
    rates = {s["stimulus_name"]: s["sampling_rate_hz"] for s in cell["sweeps"].values()}
    assert rates == {"Long Square": RATE_HZ, "Noise 1": 20_000, "Noise 2": 20_000}
    assert cell["sampling_rate_hz"] == 20_000  # the rate of most sweeps
    # One second at either rate: the onset is at 0.1 s, so 0.9 s of bins.
    assert {len(s["current_pa"][10]) for s in cell["sweeps"].values()} == {90}
    noise = cell["sweeps"][3]
    assert noise["rate_per_ms"][10].sum() * 10 == 2  # both spikes, binned at 20 kHz
    path = tmp_path / "7.h5"
    write_processed_cell(cell, path)
    again = read_processed_cell(path)
    assert {n: s["sampling_rate_hz"] for n, s in again["sweeps"].items()} == {2: RATE_HZ, 3: 20_000, 4: 20_000}


def test_format_1_files_read_with_the_root_sampling_rate(tmp_path):
    import h5py

    from gfr_keras.ephys.processed import read_processed_cell

    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as handle:
        for key, value in (("cell_id", 5), ("max_firing_rate_per_ms", 0.2), ("sampling_rate_hz", 50_000.0),
                           ("species", ""), ("cre_line", ""), ("format_version", 1)):
            handle.attrs[key] = value
        group = handle.create_group("sweeps").create_group("3")
        group.attrs["stimulus_name"] = "Noise 1"
        group.create_dataset("current_pa_10ms", data=np.ones(4))
        group.create_dataset("rate_per_ms_10ms", data=np.zeros(4))
    cell = read_processed_cell(path)
    assert cell["sweeps"][3]["sampling_rate_hz"] == 50_000.0
    np.testing.assert_array_equal(cell["sweeps"][3]["current_pa"][10], np.ones(4))

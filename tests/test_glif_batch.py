"""The GLIF bank's batch simulation against allensdk's own `GlifNeuron`, sample for sample."""

import numpy as np
import pytest

from gfr_keras.allen_metadata import load_allen_metadata
from gfr_keras.ephys.glif_batch import run_glif_sweeps
from gfr_keras.ephys.synthetic import calibrate_fast_asc, cell_features, choose_cells, glif_config, ou_noise


@pytest.fixture(scope="module")
def cells():
    """Two real cells' GLIF configurations at 10 kHz, fast after-spike current calibrated as the bank does."""
    rows = choose_cells(load_allen_metadata(), 2, seed=0)
    features = [cell_features(row) for _, row in rows.iterrows()]
    return [(f, glif_config(f, 1e-4, calibrate_fast_asc(f, 1e-4))) for f in features]


def test_spike_times_and_voltages_equal_glif_neuron(cells):
    from allensdk.model.glif.glif_neuron import GlifNeuron

    rng = np.random.default_rng(0)
    configs, currents = [], []
    for features, config in cells:
        rheobase = features["rheobase_pa"]
        step = np.zeros(6000)
        step[1000:5000] = rheobase + 120.0  # many spikes, after-spike currents summing up
        noisy = 1.2 * rheobase + ou_noise(4000, 1e-4, 0.3 * rheobase, 0.005, rng)  # spikes at irregular times
        configs += [config, config]
        currents += [step + ou_noise(6000, 1e-4, 0.1 * rheobase, 0.005, rng), noisy]
    batch = run_glif_sweeps(configs, currents)
    total = 0
    for config, current, fast in zip(configs, currents, batch):
        reference = GlifNeuron.from_dict(config).run(np.asarray(current, dtype=np.float64) * 1e-12)
        np.testing.assert_array_equal(fast["spike_time_steps"], reference["spike_time_steps"])
        np.testing.assert_array_equal(fast["grid_spike_times"], reference["grid_spike_times"])
        np.testing.assert_array_equal(fast["voltage"], reference["voltage"])  # NaN inside the spike cuts on both
        total += len(reference["spike_time_steps"])
    assert total > 40 and all(len(out["spike_time_steps"]) > 3 for out in batch)


def test_other_methods_are_refused(cells):
    config = {**cells[0][1], "voltage_dynamics_method": {"name": "linear_exact", "params": {}}}
    with pytest.raises(ValueError, match="voltage_dynamics_method: the batch GLIF runs 'linear_forward_euler'"):
        run_glif_sweeps([config], [np.zeros(10)])

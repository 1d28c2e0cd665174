"""An offline cell bank: GLIF neurons built from real Allen cells, recorded like Allen cells.

Each synthetic cell is allensdk's GLIF model (`GlifNeuron`'s configuration, leaky
integrate-and-fire with two after-spike currents; all sweeps of a cell simulated
at once by `glif_batch`, equal to `GlifNeuron.run`) whose input resistance,
membrane time constant, rheobase and f-I slope are those of one real cell of
the Allen Cell Types Database (the shipped metadata table). It keeps that
cell's id, species and cre line. An Ornstein-Uhlenbeck noise current inside the
cell makes repeated sweeps differ. The cell is "recorded" with Allen-like
protocols (`allen_stimuli.glif_protocol`: Long Square, Ramp, Noise 1, Noise 2,
Test, each with a test pulse before the experiment epoch) and written as a
`CellTypesCache` directory (`gfr_keras.ephys.cell_bank`) that allensdk reads
without any network access.
"""

import functools
import math
import os

import numpy as np

from gfr_keras.errors import InvalidParameterError
from gfr_keras.ephys import cell_bank
from gfr_keras.ephys.allen_stimuli import EXPERIMENT_START_S, GLIF_ONSET_S, glif_protocol
from gfr_keras.ephys.cell_calibration import FEATURE_COLUMNS
from gfr_keras.ephys.glif_batch import run_glif_sweeps
from gfr_keras.ephys.nwb import write_nwb

DEFAULT_SAMPLING_RATE_HZ = 10_000

# The Allen features a GLIF cell is built from (names as in the spiking bank's calibration).
_FEATURES = {
    column: FEATURE_COLUMNS[column]
    for column in ("ef__ri", "ef__tau", "ef__vrest", "ef__threshold_i_long_square", "ef__f_i_curve_slope", "ef__adaptation")
}
#: The metadata columns a cell must have to be built: every feature the model is built from.
REQUIRED_COLUMNS = tuple(_FEATURES)
#: `choose_cells(metadata, n_cells, seed, per_line=1)`: real cells with every column of `REQUIRED_COLUMNS`
#: (`cell_bank.choose_cells`).
choose_cells = functools.partial(cell_bank.choose_cells, required=REQUIRED_COLUMNS)


def cell_features(row):
    """The features a synthetic cell is built from, in named units."""
    return {name: float(row[column]) for column, name in _FEATURES.items()}


def glif_config(features, dt_s, fast_asc_pa=0.0):
    """A `GlifNeuron.from_dict` configuration (LIF with after-spike currents) in SI units."""
    resistance = features["input_resistance_mohm"] * 1e6
    capacitance = features["tau_ms"] * 1e-3 / resistance
    threshold = features["rheobase_pa"] * 1e-12 * resistance * 1.02
    slow_asc_pa = -min(max(features["adaptation"], 0.0), 0.3) * 0.5 * features["rheobase_pa"]
    return {
        "El": 0.0,
        "dt": dt_s,
        "asc_tau_array": [0.01, 0.3],
        "R_input": resistance,
        "C": capacitance,
        "asc_amp_array": [fast_asc_pa * 1e-12, slow_asc_pa * 1e-12],
        "spike_cut_length": max(1, int(round(0.002 / dt_s))),
        "th_inf": threshold,
        "th_adapt": None,
        "coeffs": {},
        "AScurrent_dynamics_method": {"name": "exp", "params": {}},
        "voltage_dynamics_method": {"name": "linear_forward_euler", "params": {}},
        "threshold_dynamics_method": {"name": "inf", "params": {}},
        "AScurrent_reset_method": {"name": "sum", "params": {"r": [1.0, 1.0]}},
        "voltage_reset_method": {"name": "zero", "params": {}},
        "threshold_reset_method": {"name": "inf", "params": {}},
        "init_voltage": 0.0,
        "init_threshold": threshold,
        "init_AScurrents": [0.0, 0.0],
    }


def calibrate_fast_asc(features, dt_s):
    """Fast after-spike current (pA) that gives the real cell's f-I slope 100 pA above rheobase.

    A plain LIF fires far too fast; a negative after-spike current slows it. The
    amplitude is found by bisection on a 1 s step (GLIF simulations).
    """
    target_hz = max(features["fi_slope_hz_per_pa"], 0.02) * 100.0
    step = np.full(int(1.0 / dt_s), features["rheobase_pa"] + 100.0)

    def rate(amplitude):
        out = run_glif_sweeps([glif_config(features, dt_s, amplitude)], [step])[0]
        return len(out["grid_spike_times"]) / 1.0

    low, high = -2000.0, 0.0  # pA: strong to no adaptation current
    if rate(high) <= target_hz:
        return high
    for _ in range(8):
        middle = 0.5 * (low + high)
        if rate(middle) > target_hz:
            high = middle
        else:
            low = middle
    return 0.5 * (low + high)


def ou_noise(n_samples, dt_s, sd_pa, tau_s, rng):
    """Ornstein-Uhlenbeck current (pA): the cell's own noise, different in every sweep."""
    from scipy.signal import lfilter

    decay = math.exp(-dt_s / tau_s)
    kicks = rng.normal(0.0, sd_pa * math.sqrt(1 - decay**2), n_samples)
    return lfilter([1.0], [1.0, -decay], kicks)


def simulate_cell(row, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0, noise_repeats=3):
    """Simulate one synthetic cell from a metadata row (`noise_repeats` sweeps of Noise 1 and of Noise 2).

    Returns:
        list of sweep dicts for `write_nwb`, and the GLIF configuration used.
    """
    features = cell_features(row)
    dt_s = 1.0 / sampling_rate_hz
    fast_asc = calibrate_fast_asc(features, dt_s)
    config = glif_config(features, dt_s, fast_asc)
    rng = np.random.default_rng([seed, int(row["specimen__id"])])
    stimuli = glif_protocol(features["rheobase_pa"], sampling_rate_hz, repeats=noise_repeats)
    noises = [ou_noise(len(current_pa), dt_s, 0.1 * features["rheobase_pa"], 0.005, rng) for _, current_pa, _ in stimuli]
    outputs = run_glif_sweeps([config] * len(stimuli), [current_pa + noise for (_, current_pa, _), noise in zip(stimuli, noises)])
    sweeps = []
    for number, ((name, current_pa, amplitude), out) in enumerate(zip(stimuli, outputs)):
        voltage_mv = features["vrest_mv"] + 1e3 * out["voltage"]
        voltage_mv[np.isnan(voltage_mv)] = 20.0  # the cut spike: depolarized
        if name == "Ramp":
            stopped = np.flatnonzero(current_pa == 0)
            stopped = stopped[stopped > int(GLIF_ONSET_S * sampling_rate_hz)]
            voltage_mv[stopped] = 0.0  # recording ended mid-ramp
        sweeps.append(
            {
                "sweep_number": number,
                "stimulus_name": name,
                "stimulus_a": current_pa * 1e-12,
                "response_v": voltage_mv * 1e-3,
                "spike_times_s": np.asarray(out["grid_spike_times"], dtype=np.float64),
                "experiment_start": int(EXPERIMENT_START_S * sampling_rate_hz),
                "amplitude_pa": amplitude,
            }
        )
    return sweeps, config


def write_cell(cache_dir, row, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0, noise_repeats=3):
    """Simulate one cell and write `specimen_<id>/ephys.nwb` and `ephys_sweeps.json`."""
    cell_id = int(row["specimen__id"])
    sweeps, config = simulate_cell(row, sampling_rate_hz, seed, noise_repeats)
    folder = cell_bank.cell_folder(cache_dir, cell_id)
    write_nwb(os.path.join(folder, "ephys.nwb"), sweeps, sampling_rate_hz)
    cell_bank.write_sweep_table(folder, cell_id, sweeps, sampling_rate_hz)
    return cell_bank.cell_summary(cell_id, sweeps, glif=config)


def write_cells(cache_dir, rows, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0, noise_repeats=3, formats=("nwb1",)):
    """Simulate and write each cell of `rows` (`write_cell`); the GLIF bank writes NWB 1 files only
    (`formats` ("nwb1",), the bank interface of `cell_bank`). Returns each cell's `cell_bank.cell_summary`."""
    if tuple(formats) != ("nwb1",):
        raise InvalidParameterError(
            f"formats: the GLIF bank writes NWB 1 files only, expected ('nwb1',), got {tuple(formats)!r}", parameter="formats"
        )
    return [write_cell(cache_dir, row, sampling_rate_hz, seed, noise_repeats) for row in rows]

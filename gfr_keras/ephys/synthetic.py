"""An offline cell bank: GLIF neurons built from real Allen cells, recorded like Allen cells.

Each synthetic cell is allensdk's GLIF model (`GlifNeuron`'s configuration, leaky
integrate-and-fire with two after-spike currents; all sweeps of a cell simulated
at once by `glif_batch`, equal to `GlifNeuron.run`) whose input resistance,
membrane time constant, rheobase and f-I slope are those of one real cell of
the Allen Cell Types Database (the shipped metadata table). It keeps that
cell's id, species and cre line. An Ornstein-Uhlenbeck noise current inside the
cell makes repeated sweeps differ. The cell is "recorded" with Allen-like
protocols (Long Square, Ramp, Noise 1, Noise 2, Test, each with a test pulse
before the experiment epoch) and written as a `CellTypesCache` directory that
allensdk reads without any network access.
"""

import math
import os
from importlib import resources

import numpy as np
import pandas as pd

from gfr_keras.io_utils import write_json_atomic
from gfr_keras.ephys.allen_stimuli import noise_current
from gfr_keras.ephys.cell_calibration import FEATURE_COLUMNS
from gfr_keras.ephys.glif_batch import run_glif_sweeps
from gfr_keras.ephys.nwb import write_nwb

ALLEN_METADATA_PATH = resources.files("gfr_keras") / "resources" / "allen_cell_types_metadata.csv"

# The Allen features a GLIF cell is built from (names as in the spiking bank's calibration).
_FEATURES = {
    column: FEATURE_COLUMNS[column]
    for column in ("ef__ri", "ef__tau", "ef__vrest", "ef__threshold_i_long_square", "ef__f_i_curve_slope", "ef__adaptation")
}
_TEST_PULSE = (0.02, 0.03, -20.0)  # start s, end s, pA
_EXPERIMENT_START_S = 0.1
_ONSET_S = 1.0


def load_allen_metadata(path=None):
    """The Allen cell table (one row per cell) shipped with the package."""
    return pd.read_csv(path or ALLEN_METADATA_PATH)


def choose_cells(metadata, n_cells, seed, required=None, per_line=1):
    """`n_cells` real cells with complete features, mixing species and cre lines.

    Deterministic for a seed: about a third human cells, the mouse cells spread
    over distinct transgenic lines first (`per_line` cells of each line, or all
    the line has, so that a classifier of cre lines has several cells per line).
    """
    complete = metadata.dropna(subset=list(required or _FEATURES)).copy()
    complete = complete[(complete["ef__ri"] > 0) & (complete["ef__tau"] > 0) & (complete["ef__threshold_i_long_square"] > 0)]
    rng = np.random.default_rng(seed)
    human = complete[complete["donor__species"] == "Homo Sapiens"]
    mouse = complete[complete["donor__species"] != "Homo Sapiens"]
    n_human = min(len(human), n_cells // 3)
    chosen = list(human.sample(n_human, random_state=rng.integers(2**31)).index) if n_human else []
    if per_line == 1:
        lines = mouse.groupby("line_name").sample(1, random_state=rng.integers(2**31))
    else:
        state = int(rng.integers(2**31))
        lines = mouse.groupby("line_name", group_keys=False)[list(mouse.columns)].apply(
            lambda group: group.sample(min(per_line, len(group)), random_state=state)
        )
    lines = lines.sample(frac=1.0, random_state=rng.integers(2**31))
    chosen += list(lines.index[: n_cells - len(chosen)])
    if len(chosen) < n_cells:
        rest = complete.drop(index=chosen)
        chosen += list(rest.sample(n_cells - len(chosen), random_state=rng.integers(2**31)).index)
    return complete.loc[chosen].reset_index(drop=True)


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



def _with_test_pulse(current_pa, sampling_rate_hz):
    start, end, amplitude = _TEST_PULSE
    current_pa[int(start * sampling_rate_hz) : int(end * sampling_rate_hz)] = amplitude
    return current_pa


def protocol(features, sampling_rate_hz, noise_seeds=(11, 22), repeats=3):
    """Allen-like sweeps for one cell: `[(stimulus_name, current_pa [samples], amplitude_pa)]`.

    Long Square: 1 s steps from rheobase - 40 pA to rheobase + 200 pA in 20 pA
    steps (skipping 0 pA). Ramp: 25 pA/s from the onset to 2 x rheobase + 100 pA, where the
    recording stops (current and voltage 0 afterwards). Noise 1 and Noise 2:
    frozen pink noise (CV 0.2) in three 3 s epochs at 0.75, 1.0 and 1.5 x
    rheobase, `repeats` times each, different waveforms for 1 and 2. Test: the
    test pulse alone. Every sweep starts with a test pulse.
    """
    rate = sampling_rate_hz
    rheobase = features["rheobase_pa"]
    onset = int(_ONSET_S * rate)
    sweeps = [("Test", _with_test_pulse(np.zeros(int(0.5 * rate)), rate), 0.0)]
    for amplitude in np.arange(rheobase - 40.0, rheobase + 200.0 + 1e-9, 20.0):
        amplitude = float(round(amplitude, 1))
        if amplitude == 0.0:
            continue  # a 0 pA step has no onset; Allen's protocol has none either
        current = np.zeros(int(3.0 * rate))
        current[onset : onset + int(1.0 * rate)] = amplitude
        sweeps.append(("Long Square", _with_test_pulse(current, rate), amplitude))
    ramp_end_pa = 2.0 * rheobase + 100.0
    ramp_samples = int(ramp_end_pa / 25.0 * rate)
    current = np.zeros(onset + ramp_samples + int(0.5 * rate))
    current[onset : onset + ramp_samples] = np.linspace(0.0, ramp_end_pa, ramp_samples, endpoint=False) + 25.0 / rate
    sweeps.append(("Ramp", _with_test_pulse(current, rate), ramp_end_pa))
    for name, seed in zip(("Noise 1", "Noise 2"), noise_seeds):
        current = noise_current(rheobase, rate, seed, onset, onset)
        for _ in range(repeats):
            sweeps.append((name, _with_test_pulse(current.copy(), rate), rheobase))
    return sweeps


def ou_noise(n_samples, dt_s, sd_pa, tau_s, rng):
    """Ornstein-Uhlenbeck current (pA): the cell's own noise, different in every sweep."""
    from scipy.signal import lfilter

    decay = math.exp(-dt_s / tau_s)
    kicks = rng.normal(0.0, sd_pa * math.sqrt(1 - decay**2), n_samples)
    return lfilter([1.0], [1.0, -decay], kicks)


def simulate_cell(row, sampling_rate_hz=10_000, seed=0):
    """Simulate one synthetic cell from a metadata row.

    Returns:
        list of sweep dicts for `write_nwb`, and the GLIF configuration used.
    """
    features = cell_features(row)
    dt_s = 1.0 / sampling_rate_hz
    fast_asc = calibrate_fast_asc(features, dt_s)
    config = glif_config(features, dt_s, fast_asc)
    rng = np.random.default_rng([seed, int(row["specimen__id"])])
    stimuli = protocol(features, sampling_rate_hz)
    noises = [ou_noise(len(current_pa), dt_s, 0.1 * features["rheobase_pa"], 0.005, rng) for _, current_pa, _ in stimuli]
    outputs = run_glif_sweeps([config] * len(stimuli), [current_pa + noise for (_, current_pa, _), noise in zip(stimuli, noises)])
    sweeps = []
    for number, ((name, current_pa, amplitude), out) in enumerate(zip(stimuli, outputs)):
        voltage_mv = features["vrest_mv"] + 1e3 * out["voltage"]
        voltage_mv[np.isnan(voltage_mv)] = 20.0  # the cut spike: depolarized
        if name == "Ramp":
            stopped = np.flatnonzero(current_pa == 0)
            stopped = stopped[stopped > int(_ONSET_S * sampling_rate_hz)]
            voltage_mv[stopped] = 0.0  # recording ended mid-ramp
        sweeps.append(
            {
                "sweep_number": number,
                "stimulus_name": name,
                "stimulus_a": current_pa * 1e-12,
                "response_v": voltage_mv * 1e-3,
                "spike_times_s": np.asarray(out["grid_spike_times"], dtype=np.float64),
                "experiment_start": int(_EXPERIMENT_START_S * sampling_rate_hz),
                "amplitude_pa": amplitude,
            }
        )
    return sweeps, config


def json_row(row):
    return {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()}


def write_sweep_table(folder, cell_id, sweeps, sampling_rate_hz):
    """`ephys_sweeps.json`: the sweep table `CellTypesCache.get_ephys_sweeps` reads."""
    sweep_table = [
        {
            "id": cell_id * 1000 + s["sweep_number"],
            "specimen_id": cell_id,
            "sweep_number": s["sweep_number"],
            "stimulus_name": s["stimulus_name"],
            "stimulus_units": "Amps",
            "stimulus_absolute_amplitude": s["amplitude_pa"],
            "num_spikes": int(len(s["spike_times_s"])),
            "sampling_rate": float(sampling_rate_hz),
        }
        for s in sweeps
    ]
    write_json_atomic(sweep_table, os.path.join(folder, "ephys_sweeps.json"), indent=1)


def write_cell(cache_dir, row, sampling_rate_hz=10_000, seed=0):
    """Simulate one cell and write `specimen_<id>/ephys.nwb` and `ephys_sweeps.json`."""
    cell_id = int(row["specimen__id"])
    sweeps, config = simulate_cell(row, sampling_rate_hz, seed)
    folder = os.path.join(cache_dir, f"specimen_{cell_id}")
    os.makedirs(folder, exist_ok=True)
    write_nwb(os.path.join(folder, "ephys.nwb"), sweeps, sampling_rate_hz)
    write_sweep_table(folder, cell_id, sweeps, sampling_rate_hz)
    return {"cell_id": cell_id, "n_sweeps": len(sweeps), "n_spikes": sum(len(s["spike_times_s"]) for s in sweeps), "glif": config}


#: The bank description `gfr synth-cells` writes beside the manifest: the provenance
#: source (`gfr_keras.dataset.provenance.synthetic_source`) that `gfr preprocess` records.
BANK_DESCRIPTION = "bank.json"


def write_bank_description(cache_dir, source):
    """`cache_dir/bank.json`: what the bank is (model, seed, sampling rate, ...), for provenance."""
    path = os.path.join(cache_dir, BANK_DESCRIPTION)
    write_json_atomic(source, path, indent=1)
    return path


def write_cache_index(cache_dir, rows):
    """`manifest.json` (allensdk's own layout) and `cells.json` (the real cells' records)."""
    from allensdk.core.cell_types_cache import CellTypesCache

    os.makedirs(cache_dir, exist_ok=True)
    manifest = os.path.join(cache_dir, "manifest.json")
    CellTypesCache(manifest_file=manifest).build_manifest(manifest)
    write_json_atomic([json_row(row) for row in rows], os.path.join(cache_dir, "cells.json"), indent=1)
    return manifest

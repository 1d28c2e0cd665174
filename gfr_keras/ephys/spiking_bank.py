"""An offline cell bank: model neurons built from real Allen cells, recorded like Allen cells.

Each synthetic cell is the integrate-and-fire neuron of
`gfr_keras.spiking_neuron` (leaky membrane, stereotyped action potential,
threshold adaptation, intrinsic noise; why this model: see that module) whose
parameters reproduce one real cell of the Allen Cell Types Database (the
shipped metadata table): input resistance, time constant, resting potential,
rheobase, fast trough and upstroke/downstroke ratio are set from it, and the
f-I slope, average firing rate and adaptation are calibrated on simulated
steps (`gfr_keras.cell_calibration`). The cell keeps the real cell's id,
species and cre line. It is "recorded" at an Allen sampling rate (50 kHz by
default) with the Allen stimulus set (`gfr_keras.allen_stimuli`: Long
Square, Short Square, Ramp, Noise 1, Noise 2, Test) and written as a
`CellTypesCache` directory (`gfr_keras.ephys.cell_bank`) that allensdk reads
without any network access, and on which allensdk's own feature extractor runs.
All cells and sweeps of a batch are simulated at once.
"""

import functools
import math
import os

import numpy as np

from gfr_keras.ephys import cell_bank
from gfr_keras.ephys.allen_stimuli import EXPERIMENT_START_S, SHORT_SQUARE_MS, stimulus_protocol
from gfr_keras.ephys.cell_calibration import FEATURE_COLUMNS, KNOBS, calibrate, cell_features, model_parameters
from gfr_keras.io_utils import write_json_atomic
from gfr_keras.ephys.nwb import write_nwb
from gfr_keras.ephys.spiking_neuron import PARAMETERS, simulate

DEFAULT_SAMPLING_RATE_HZ = 50_000
#: The metadata columns a cell must have to be built: every feature the model is calibrated to.
REQUIRED_COLUMNS = tuple(FEATURE_COLUMNS)
#: `choose_cells(metadata, n_cells, seed, per_line=1)`: real cells with every column of `REQUIRED_COLUMNS`
#: (`cell_bank.choose_cells`).
choose_cells = functools.partial(cell_bank.choose_cells, required=REQUIRED_COLUMNS)


def short_square_threshold_pa(params):
    """Smallest 3 ms pulse (pA) that brings the model from rest to its threshold."""
    charge = 1.0 - math.exp(-SHORT_SQUARE_MS / params["tau_dep_ms"])
    return (params["theta_inf_mv"] - params["e_l_mv"]) / (params["r_dep_mohm"] * 1e-3 * charge)


def build_models(rows, parameter_overrides=None):
    """Model parameters (scalars) and calibration record for each metadata row.

    `parameter_overrides` (optional, `params dict -> params dict`) changes every
    candidate model the calibration simulates (see `calibrate`); the returned
    parameters are the calibrated knobs' model without it.
    """
    features = [cell_features(row) for row in rows]
    knobs = calibrate(features, parameter_overrides=parameter_overrides)
    return [
        (model_parameters(f, *(k[name] for name in KNOBS)), {"features": f, "calibration": k})
        for f, k in zip(features, knobs)
    ]


def simulate_cells(rows, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0, noise_repeats=3):
    """Simulate every sweep of every cell at once (`noise_repeats` sweeps of Noise 1 and of Noise 2).

    Returns:
        per cell, `(sweeps, model)`: sweep dicts for `write_nwb` and the model
        (`params`, source `features`, `calibration`).
    """
    models = build_models(rows)
    cell_ids = [int(row["specimen__id"]) for row in rows]
    simulated = simulate_protocol(models, cell_ids, sampling_rate_hz, seed, noise_repeats)
    return [
        (
            [_recorded(n, sweep, v, s, sampling_rate_hz) for n, (sweep, v, s) in enumerate(zip(sweeps, voltages, spikes))],
            {"params": params, **info},
        )
        for (sweeps, voltages, spikes), (params, info) in zip(simulated, models)
    ]


def simulate_protocol(models, noise_keys, sampling_rate_hz, seed=0, noise_repeats=3, return_voltage=True):
    """The bank's stimulus protocol (`allen_stimuli.stimulus_protocol`) run on every model, all sweeps at once.

    Args:
        models: `(params, info)` per cell, as `build_models` returns (`info["features"]["rheobase_pa"]` sets the steps).
        noise_keys: one integer per cell; sweep `k` of the cell draws its intrinsic noise from
            `numpy.random.default_rng([seed, key, k])` (the bank uses the cell id).
        return_voltage: False skips the voltage traces (spikes only).

    Returns:
        per cell, `(sweeps, voltages_mv, spike_samples)`: the protocol's sweep dicts and, per sweep, the
        voltage trace (None without `return_voltage`) and spike sample indices.
    """
    plans, trace_params, currents, rngs = [], [], [], []
    for key, (params, info) in zip(noise_keys, models):
        sweeps = stimulus_protocol(
            info["features"]["rheobase_pa"], short_square_threshold_pa(params), sampling_rate_hz, repeats=noise_repeats
        )
        for number, sweep in enumerate(sweeps):
            trace_params.append(params)
            currents.append(sweep["current_pa"])
            rngs.append(np.random.default_rng([seed, key, number]))
        plans.append(sweeps)
    voltages, spikes = simulate_traces(trace_params, currents, sampling_rate_hz, rngs, return_voltage)
    out, first = [], 0
    for sweeps in plans:
        last = first + len(sweeps)
        out.append((sweeps, voltages[first:last] if return_voltage else [None] * len(sweeps), spikes[first:last]))
        first = last
    return out


def simulate_traces(trace_params, currents_pa, sampling_rate_hz, rngs, return_voltage=True):
    """Simulate traces at once, each with its own model (`spiking_neuron.simulate` on the stacked parameters).

    Args:
        trace_params: one parameter dict (`spiking_neuron.PARAMETERS`) per trace.
        currents_pa: one current (pA) `[samples]` per trace.
        rngs: one `numpy.random.Generator` per trace (its intrinsic noise).

    Returns:
        `(voltages_mv, spike_samples)` as `spiking_neuron.simulate`.
    """
    stacked = {key: np.array([p[key] for p in trace_params]) for key in PARAMETERS}
    return simulate(stacked, currents_pa, 1000.0 / sampling_rate_hz, rngs, return_voltage=return_voltage)


def _recorded(number, sweep, voltage_mv, spike_samples, sampling_rate_hz):
    end = sweep["experiment_end"]
    voltage_mv = voltage_mv.astype(np.float64)
    voltage_mv[end:] = 0.0  # the recording stopped (Ramp)
    spike_samples = spike_samples[spike_samples < end]
    return {
        "sweep_number": number,
        "stimulus_name": sweep["stimulus_name"],
        "stimulus_a": sweep["current_pa"] * 1e-12,
        "response_v": voltage_mv * 1e-3,
        "spike_times_s": spike_samples / float(sampling_rate_hz),
        "experiment_start": int(EXPERIMENT_START_S * sampling_rate_hz),
        "experiment_end": end,
        "amplitude_pa": sweep["amplitude_pa"],
    }


def simulate_cell(row, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0):
    """Simulate one synthetic cell from a metadata row: `(sweeps, model)`."""
    return simulate_cells([row], sampling_rate_hz, seed)[0]


def _write_recorded(cache_dir, row, sweeps, model, sampling_rate_hz, formats=("nwb1",)):
    cell_id = int(row["specimen__id"])
    folder = cell_bank.cell_folder(cache_dir, cell_id)
    cell_bank.write_sweep_table(folder, cell_id, sweeps, sampling_rate_hz)
    write_json_atomic(_jsonable(model), os.path.join(folder, "model.json"), indent=1)
    files = dict(zip(formats, cell_bank.cell_files(cache_dir, cell_id, formats)))
    if "nwb2" in files:
        from gfr_keras.ephys.nwb2_writer import subject_from_allen_row, write_nwb2

        write_nwb2(files["nwb2"], sweeps, sampling_rate_hz, cell_id, **subject_from_allen_row(row), quantize=True)
    if "nwb1" in files:
        write_nwb(files["nwb1"], sweeps, sampling_rate_hz, quantize=True)  # last: marks the cell done
    return cell_bank.cell_summary(cell_id, sweeps, model=model)


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def write_cells(cache_dir, rows, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0, noise_repeats=3, formats=("nwb1",)):
    """Simulate cells together and write each `specimen_<id>/` (sweep table, model) and its
    recordings in `formats` ("nwb1", "nwb2": see `cell_bank.cell_files`). Returns each cell's
    `cell_bank.cell_summary`."""
    simulated = simulate_cells(rows, sampling_rate_hz, seed, noise_repeats)
    return [_write_recorded(cache_dir, row, sweeps, model, sampling_rate_hz, formats) for row, (sweeps, model) in zip(rows, simulated)]


def write_cell(cache_dir, row, sampling_rate_hz=DEFAULT_SAMPLING_RATE_HZ, seed=0, noise_repeats=3):
    """Simulate one cell and write `specimen_<id>/ephys.nwb`, `ephys_sweeps.json` and `model.json`."""
    return write_cells(cache_dir, [row], sampling_rate_hz, seed, noise_repeats)[0]


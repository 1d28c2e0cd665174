"""Sweeps as arrays to a processed cell: the entry for recordings in any format.

A user with ABF, Igor or in-house files loads each sweep into numpy and calls
`write_processed_cell_from_sweeps`; the NWB 2 reader (`gfr_keras.ephys.nwb2`)
goes through the same code. Each sweep is a dict:

    current_pa        [samples]  injected current (pA)
    sampling_rate_hz  float      samples per second (each sweep its own)
    role              str        "Long Square", "Ramp", "Noise 1", "Noise 2",
                                 "Short Square", "Test" or "ignore" (`stimulus_roles.ROLES`)
    voltage_mv        [samples]  membrane potential (mV); optional if spike_times_s is given
    spike_times_s     [spikes]   spike times (s from the sweep's first sample); optional:
                                 detected from voltage_mv (`spike_detection`) when absent
    sweep_number      int        optional (default: the sweep's position in the list)
    window            (start, stop)  optional: the samples `[start, stop)` that may be
                                 binned (default: found from the data, below)
    stimulus_description str     optional: the name the sweep had (for messages)

The window by default, as ipfx (`ipfx.epochs`) finds it in Allen's NWB 2 files:

* start: after the test pulse. A test pulse is a pulse of current that starts and
  ends within the first 0.4 s (`TEST_PULSE_MAX_S`); the window starts after it by
  as many samples again as the baseline before it (ipfx's `get_test_epoch`), or
  at the next change of the current if that comes sooner. No test pulse: sample 0.
* stop: the end of the recorded data, the last sample whose voltage is finite and
  not exactly 0 (MIES pads with NaN, Allen's NWB 1 files with 0; ipfx's
  `get_recording_epoch`); without a voltage, the sweep's end.

From there, `binning.analysis_window` and `binning.bin_sweep` bin the sweep
exactly as for Allen's NWB 1 files (stimulus onset, Ramp cut, whole bins).
"""

import numpy as np

from gfr_keras.errors import InvalidParameterError
from gfr_keras.ephys.allen import MAX_RATE_SWEEPS, CellProcessingError
from gfr_keras.ephys.binning import BIN_SIZES_MS, REQUIRED_STIMULI, analysis_window, bin_sweep, max_firing_rate_per_ms
from gfr_keras.ephys.processed import write_processed_cell
from gfr_keras.ephys.spike_detection import detect_spike_times
from gfr_keras.ephys.stimulus_roles import BINNED_ROLES, GAMMA_ROLES, ROLES

TEST_PULSE_MAX_S = 0.4
#: Noise 1 and Noise 2 repeats the EVR needs (validation and test); fewer give a NaN EVR.
MIN_NOISE_REPEATS = 2


def _label(path, sweep):
    where = f"{path}: " if path else ""
    name = sweep.get("stimulus_description") or sweep.get("role")
    return f"{where}sweep {sweep['sweep_number']} ({name})"


def _as_array(sweep, key, path):
    values = np.asarray(sweep[key], dtype=np.float64)
    if values.ndim != 1:
        raise CellProcessingError(f"{_label(path, sweep)}: {key}: expected a 1-D array, got shape {list(values.shape)}",
                                  path=path, record=sweep["sweep_number"], field=key, reason="bad_sweep")
    return values


def _checked(sweep, position, path):
    """The sweep dict with arrays as float64 and its fields checked; errors name the sweep and field."""
    sweep = {**sweep, "sweep_number": int(sweep.get("sweep_number", position))}
    label = _label(path, sweep)
    missing = [key for key in ("current_pa", "sampling_rate_hz", "role") if sweep.get(key) is None]
    if sweep.get("voltage_mv") is None and sweep.get("spike_times_s") is None:
        missing.append("voltage_mv or spike_times_s")
    if missing:
        raise CellProcessingError(f"{label}: missing {', '.join(missing)}", path=path, record=sweep["sweep_number"],
                                  field=missing[0], reason="bad_sweep")
    if sweep["role"] not in ROLES:
        raise CellProcessingError(f"{label}: role {sweep['role']!r} is not one of {list(ROLES)}", path=path,
                                  record=sweep["sweep_number"], field="role", reason="bad_role")
    rate = sweep["sampling_rate_hz"]
    if not (isinstance(rate, (int, float, np.number)) and np.isfinite(rate) and rate > 0):
        raise CellProcessingError(f"{label}: sampling_rate_hz: expected a positive number, got {rate!r}", path=path,
                                  record=sweep["sweep_number"], field="sampling_rate_hz", reason="bad_sweep")
    sweep["sampling_rate_hz"] = float(rate)
    for key in ("current_pa", "voltage_mv", "spike_times_s"):
        if sweep.get(key) is not None:
            sweep[key] = _as_array(sweep, key, path)
    if sweep.get("voltage_mv") is not None and len(sweep["voltage_mv"]) != len(sweep["current_pa"]):
        raise CellProcessingError(
            f"{label}: voltage_mv has {len(sweep['voltage_mv'])} samples, current_pa {len(sweep['current_pa'])}",
            path=path, record=sweep["sweep_number"], field="voltage_mv", reason="bad_sweep",
        )
    if not np.all(np.isfinite(sweep["current_pa"])):
        raise CellProcessingError(f"{label}: current_pa has NaN or infinite samples", path=path,
                                  record=sweep["sweep_number"], field="current_pa", reason="bad_sweep")
    return sweep


def recording_end(voltage_mv):
    """Index of the last recorded sample: the last finite, non-zero voltage (-1 when there is none)."""
    recorded = np.flatnonzero(np.isfinite(voltage_mv) & (voltage_mv != 0.0))
    return int(recorded[-1]) if len(recorded) else -1


def experiment_start(current_pa, sampling_rate_hz):
    """First sample after the test pulse (module docstring); 0 when there is none."""
    changes = np.flatnonzero(np.diff(current_pa))
    limit = TEST_PULSE_MAX_S * sampling_rate_hz
    if len(changes) < 2 or changes[0] >= limit or changes[1] >= limit:
        return 0
    pulse_start, pulse_end = int(changes[0]) + 1, int(changes[1])
    start = pulse_end + pulse_start  # ipfx: padding = the baseline before the pulse
    return min(start, int(changes[2])) if len(changes) > 2 else start


def index_range(sweep):
    """The `index_range` that `binning.analysis_window` takes: `(first, last)` of the experiment, as
    allensdk gives it (`last` inclusive, and as in the published code not binned), or the sweep's `window`."""
    if sweep.get("window") is not None:
        return tuple(int(x) for x in sweep["window"])
    last = len(sweep["current_pa"]) - 1
    if sweep.get("voltage_mv") is not None:
        last = recording_end(sweep["voltage_mv"])
    return experiment_start(sweep["current_pa"], sweep["sampling_rate_hz"]), last


def spike_times_of(sweep, path=None):
    """The sweep's spike times (s): stored ones, or detected on the recorded part of its voltage."""
    if sweep.get("spike_times_s") is not None:
        return np.sort(sweep["spike_times_s"])
    voltage = sweep["voltage_mv"][: recording_end(sweep["voltage_mv"]) + 1]
    if not np.all(np.isfinite(voltage)):
        raise CellProcessingError(f"{_label(path, sweep)}: voltage_mv has NaN inside the recording", path=path,
                                  record=sweep["sweep_number"], field="voltage_mv", reason="bad_sweep")
    return detect_spike_times(voltage, sweep["sampling_rate_hz"])


def _bin(sweep, spike_times, path, bin_sizes_ms):
    current = sweep["current_pa"]
    voltage = sweep["voltage_mv"] if sweep.get("voltage_mv") is not None else np.ones_like(current)
    first, last = index_range(sweep)
    if not 0 <= first < last <= len(current):
        raise CellProcessingError(
            f"{_label(path, sweep)}: no samples to bin (window {first}..{last} of {len(current)} samples)",
            path=path, record=sweep["sweep_number"], field="window", reason="bad_sweep",
        )
    try:
        start, stop = analysis_window(sweep["role"], current, np.nan_to_num(voltage), (first, last))
    except ValueError as error:
        raise CellProcessingError(f"{_label(path, sweep)}: {error}", path=path, record=sweep["sweep_number"],
                                  reason="bad_sweep") from None
    rate = sweep["sampling_rate_hz"]
    binned = {"stimulus_name": sweep["role"], "sampling_rate_hz": rate, "current_pa": {}, "rate_per_ms": {}}
    for bin_size in bin_sizes_ms:
        binned["current_pa"][bin_size], binned["rate_per_ms"][bin_size] = bin_sweep(
            current, spike_times, rate, start, stop, bin_size
        )
    return binned


def _coverage_warnings(sweeps, path):
    counts = {role: sum(1 for s in sweeps.values() if s["stimulus_name"] == role) for role in ("Noise 1", "Noise 2")}
    where = f"{path}: " if path else ""
    return [
        f"{where}{role}: {count} sweep{'s' * (count != 1)}; its EVR needs at least {MIN_NOISE_REPEATS} repeats (else NaN)"
        for role, count in counts.items() if 0 < count < MIN_NOISE_REPEATS
    ]


def process_sweeps(sweeps, cell_id, species="", cre_line="", max_rate_sweeps="all", bin_sizes_ms=BIN_SIZES_MS, path=None):
    """Bin a cell's sweeps (module docstring) into the processed-cell dict `write_processed_cell` takes.

    Args:
        sweeps: list of sweep dicts (module docstring).
        cell_id: the cell's integer id (the processed file is `<cell_id>.h5`).
        max_rate_sweeps: "all" (Long Square, Ramp, Noise 1/2, Short Square and Test sweeps give
            gamma, the largest 1/ISI) or "fitted" (only the first four).
        path: the source file, named in messages.

    Returns:
        `(cell, warnings)`: the cell dict and a list of messages (too few Noise repeats for an EVR).

    Raises:
        CellProcessingError naming the file and sweep: a malformed sweep, a sweep that cannot
        be binned, Long Square, Noise 1 or Noise 2 missing, or no spike in the binned sweeps.
    """
    if max_rate_sweeps not in MAX_RATE_SWEEPS:
        raise InvalidParameterError(f"max_rate_sweeps: expected one of {list(MAX_RATE_SWEEPS)}, got {max_rate_sweeps!r}",
                                    parameter="max_rate_sweeps")
    if isinstance(cell_id, bool) or not isinstance(cell_id, (int, np.integer)) or cell_id < 0:
        raise InvalidParameterError(f"cell_id: expected a non-negative integer, got {cell_id!r}", parameter="cell_id")
    binned, fitted_spikes, gamma_spikes, numbers = {}, [], [], set()
    for position, raw in enumerate(sweeps):
        sweep = _checked(raw, position, path)
        if sweep["sweep_number"] in numbers:
            raise CellProcessingError(f"{_label(path, sweep)}: sweep number {sweep['sweep_number']} appears twice",
                                      path=path, record=sweep["sweep_number"], reason="bad_sweep")
        numbers.add(sweep["sweep_number"])
        if sweep["role"] not in (*BINNED_ROLES, *GAMMA_ROLES):
            continue
        spike_times = spike_times_of(sweep, path)
        gamma_spikes.append(spike_times)
        if sweep["role"] in BINNED_ROLES:
            fitted_spikes.append(spike_times)
            binned[sweep["sweep_number"]] = _bin(sweep, spike_times, path, bin_sizes_ms)
    _check_complete(binned, fitted_spikes, path)
    rates = [sweep["sampling_rate_hz"] for sweep in binned.values()]
    cell = {
        "cell_id": int(cell_id),
        "max_firing_rate_per_ms": max_firing_rate_per_ms(gamma_spikes if max_rate_sweeps == "all" else fitted_spikes),
        "sampling_rate_hz": max(set(rates), key=lambda rate: (rates.count(rate), rate)),
        "species": str(species or ""),
        "cre_line": str(cre_line or ""),
        "sweeps": binned,
    }
    return cell, _coverage_warnings(binned, path)


def _check_complete(binned, fitted_spikes, path):
    where = f"{path}: " if path else ""
    present = sorted({sweep["stimulus_name"] for sweep in binned.values()})
    missing = [name for name in REQUIRED_STIMULI if name not in present]
    if missing:
        raise CellProcessingError(
            f"{where}missing stimulus: {', '.join(missing)} (has {present or 'none'}); a fit needs Long Square "
            "(activation), Noise 1 (validation) and Noise 2 (test) sweeps",
            path=path, field=missing[0], reason="missing_stimulus",
        )
    if not any(len(times) for times in fitted_spikes):
        raise CellProcessingError(f"{where}no spikes in any sweep", path=path, reason="no_spikes")


def write_processed_cell_from_sweeps(sweeps, out_path, cell_id, species="", cre_line="", max_rate_sweeps="all"):
    """Bin sweeps given as arrays and write the processed cell `out_path` (`<cell_id>.h5`) atomically.

    The entry for recordings in any format: load each sweep into numpy, say what
    it is (its role), and `gfr fit --processed` fits the folder as it fits Allen's
    cells. See the module docstring for the sweep dicts and the window, and
    docs/fitting_your_recordings.md for an example.

    Args:
        sweeps: list of dicts with `current_pa`, `sampling_rate_hz`, `role` and
            `voltage_mv` and/or `spike_times_s` (optional `sweep_number`, `window`).
        out_path: the processed file to write (name it `<cell_id>.h5` for `gfr fit`).
        cell_id: integer id of the cell.
        species, cre_line: stored with the cell (shown by the report and the dataset).
        max_rate_sweeps: "all" or "fitted" (see `process_sweeps`).

    Returns:
        `(cell, warnings)` as `process_sweeps`.

    Raises:
        CellProcessingError naming the sweep and what is wrong or missing.
    """
    cell, warnings = process_sweeps(sweeps, cell_id, species, cre_line, max_rate_sweeps)
    write_processed_cell(cell, out_path)
    return cell, warnings

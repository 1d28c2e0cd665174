"""Allen Cell Types recordings to processed cells, through allensdk (the `allen` extra).

`CellTypesCache` lists cells and opens each cell's NWB file as an `NwbDataSet`;
`gfr_keras.ephys.binning` turns every sweep into binned current and rate
(spec section 5); `gfr_keras.ephys.processed` writes the result. With a manifest of
a real cache, allensdk would download what is missing from the Allen API;
here it may only with `download=True`: offline (the default), a file the
manifest names but the disk lacks is an error naming it, before allensdk is
asked (its lazy fetch would create `specimen_<id>/` in the cache and go online).
With a cache written by `gfr synth-cells` everything is already on disk.
"""

import os

import numpy as np

from gfr_keras.errors import InputError, MissingInputError
from gfr_keras.ephys.binning import (
    BIN_SIZES_MS,
    REQUIRED_STIMULI,
    STIMULUS_NAMES,
    analysis_window,
    bin_recorded_sweep,
    max_firing_rate_per_ms,
)


class CellProcessingError(InputError):
    """A cell that cannot be processed; the message is the reason recorded in failures.csv.

    `reason` is a stable code for the kind of failure: `unreadable_file`, `unreadable_sweep`,
    `unbinnable_sweep`, `missing_stimulus`, `missing_noise_stimulus` (Noise 1 or Noise 2 missing),
    `no_spikes`, `late_spike`, `unbinnable_unused_sweep`.
    """


def open_cache(manifest_path):
    """allensdk's `CellTypesCache` on `manifest_path` (created with its layout if missing)."""
    from allensdk.core.cell_types_cache import CellTypesCache

    return CellTypesCache(manifest_file=str(manifest_path))


def local_path(cache, manifest_key, *args):
    """Where the manifest of `cache` puts a file (`"CELLS"`, `"EPHYS_DATA"` with a cell id).

    None for a cache object without a manifest (one that serves recordings
    itself, e.g. from memory): it has no file to check and nothing to fetch.
    """
    if not hasattr(cache, "get_cache_path"):
        return None
    return cache.get_cache_path(None, manifest_key, *args)


def _missing_offline(path, download):
    """Whether a file the manifest names is missing from disk while going online is not allowed."""
    return not download and path is not None and not os.path.isfile(path)


def list_cells(cache, download=False):
    """The cells of the cache: `{cell_id: {"species": str, "cre_line": str}}`.

    Raises:
        MissingInputError: offline (`download` false), the cache has no cell list on disk.
    """
    path = local_path(cache, "CELLS")
    if _missing_offline(path, download):
        raise MissingInputError(
            f"{path}: the cache's cell list is not on disk; it is fetched from the Allen API only with download",
            path=path, parameter="download", reason="not_in_cache",
        )
    return {
        int(cell["id"]): {
            "species": cell.get("species") or "",
            "cre_line": cell.get("transgenic_line") or "",
        }
        for cell in cache.get_cells()
    }


def _decode(value):
    return value.decode() if isinstance(value, bytes) else str(value)


#: `process_cell`'s `max_rate_sweeps`: the sweeps whose spikes give gamma (max 1/ISI).
MAX_RATE_SWEEPS = ("all", "fitted")
#: `process_cell`'s `unused_sweeps`: ignore the sweeps the model does not use, or
#: check them as the published preprocessing (which bins them) would, dropping the cell.
UNUSED_SWEEPS = ("ignore", "check")


def _read_sweep(data_set, sweep_number, every_spike_time, every_sweep=False):
    """`(stimulus_name, sweep dict or None, spike times or None)`.

    The sweep for a stimulus the model uses (for every sweep with
    `every_sweep`); its spike times also for other sweeps when `every_spike_time`.
    """
    try:
        metadata = data_set.get_sweep_metadata(sweep_number)
        stimulus_name = _decode(metadata.get("aibs_stimulus_name", b""))
        used = stimulus_name in STIMULUS_NAMES or every_sweep
        if not (used or every_spike_time):
            return stimulus_name, None, None
        spike_times = np.asarray(data_set.get_spike_times(sweep_number), dtype=np.float64)
        sweep = data_set.get_sweep(sweep_number) if used else None
    except Exception as error:  # allensdk/h5py raise many kinds for a bad file
        raise CellProcessingError(
            f"sweep {sweep_number}: cannot read it: {type(error).__name__}: {error}", reason="unreadable_sweep"
        ) from None
    return stimulus_name, sweep, spike_times


def _bin_one_sweep(sweep_number, stimulus_name, sweep, spike_times, bin_sizes_ms, keep_raw):
    sampling_rate = float(sweep["sampling_rate"])
    current_pa = 1e12 * np.asarray(sweep["stimulus"], dtype=np.float64)
    response_mv = 1e3 * np.asarray(sweep["response"], dtype=np.float64)
    try:
        binned, (start, stop) = bin_recorded_sweep(
            stimulus_name, current_pa, response_mv, spike_times, sampling_rate, sweep["index_range"], bin_sizes_ms
        )
    except ValueError as error:
        raise CellProcessingError(f"sweep {sweep_number}: {error}", reason="unbinnable_sweep") from None
    if keep_raw:
        binned["raw"] = {
            "current_pa": current_pa,
            "response_mv": response_mv,
            "spike_times_s": spike_times,
            "sampling_rate_hz": sampling_rate,
            "window": (start, stop),
        }
    return binned


def _check_as_published(sweep_number, stimulus_name, sweep, spike_times):
    """Raise where the published `obtain_firing_rate_and_current_given_time_bin` would fail on this sweep.

    It windows and bins every sweep of the file: a non-Test sweep whose current
    never changes (`I_diff_nonzero_idxs[0][0]`) or a spike past the last sample
    (`S[spike_idx] = 1`) raises, and the whole cell is dropped.
    """
    current_pa = 1e12 * np.asarray(sweep["stimulus"], dtype=np.float64)
    late = [t for t in spike_times if int(t * float(sweep["sampling_rate"])) >= len(current_pa)]
    if late:
        raise CellProcessingError(
            f"sweep {sweep_number} ({stimulus_name}): a spike at {late[0]:.4f} s is past the end of the recording "
            '(unused_sweeps="check" drops the cell, as the published preprocessing)',
            reason="late_spike",
        )
    if stimulus_name not in STIMULUS_NAMES:
        try:
            analysis_window(stimulus_name, current_pa, 1e3 * np.asarray(sweep["response"]), sweep["index_range"])
        except ValueError as error:
            raise CellProcessingError(
                f"sweep {sweep_number}, not used by the model: {error} (unused_sweeps=\"check\" drops the cell, as "
                "the published preprocessing)",
                reason="unbinnable_unused_sweep",
            ) from None


def _bin_sweeps(data_set, sweep_numbers, bin_sizes_ms, keep_raw, every_spike_time, check):
    """`(binned sweeps the model uses, their spike times, every sweep's spike times)`; `check`: `_check_as_published`."""
    sweeps, fitted_spikes, all_spikes = {}, [], []
    for sweep_number in sweep_numbers:
        stimulus_name, sweep, spike_times = _read_sweep(data_set, sweep_number, every_spike_time or check, check)
        if spike_times is not None:
            all_spikes.append(spike_times)
        if check:
            _check_as_published(sweep_number, stimulus_name, sweep, spike_times)
        if sweep is None or stimulus_name not in STIMULUS_NAMES:
            continue
        fitted_spikes.append(spike_times)
        sweeps[sweep_number] = _bin_one_sweep(sweep_number, stimulus_name, sweep, spike_times, bin_sizes_ms, keep_raw)
    return sweeps, fitted_spikes, all_spikes


def _most_common_rate(sweeps):
    rates = [sweep["sampling_rate_hz"] for sweep in sweeps.values()]
    return max(set(rates), key=lambda rate: (rates.count(rate), rate))


def _missing_stimulus(missing, present):
    # A cell without Noise 1 or Noise 2 cannot be validated or tested: callers count those apart.
    reason = "missing_noise_stimulus" if any(name.startswith("Noise") for name in missing) else "missing_stimulus"
    return CellProcessingError(f"missing stimulus: {', '.join(missing)} (has {sorted(present) or 'none'})", reason=reason)


def _open_data_set(cache, cell_id, download):
    """The cell's `NwbDataSet` and its sorted sweep numbers; offline, a file missing from the cache is an error."""
    nwb_path = local_path(cache, "EPHYS_DATA", int(cell_id))
    if _missing_offline(nwb_path, download):
        raise CellProcessingError(
            f"not in the local cache ({nwb_path} does not exist); it is fetched only when downloading is allowed (download=True)",
            path=nwb_path, cell_id=int(cell_id), reason="not_in_cache",
        )
    try:
        data_set = cache.get_ephys_data(cell_id)
        sweep_numbers = sorted(data_set.get_sweep_numbers())
    except Exception as error:  # allensdk/h5py raise many kinds for a bad file
        message = f"cannot read the NWB file: {type(error).__name__}: {error}"
        raise CellProcessingError(message, reason="unreadable_file") from None
    return data_set, sweep_numbers


def _check_complete(sweeps, fitted_spikes):
    """Raise unless the binned sweeps hold every required stimulus and at least one spike."""
    present = {sweep["stimulus_name"] for sweep in sweeps.values()}
    missing = [name for name in REQUIRED_STIMULI if name not in present]
    if missing:
        raise _missing_stimulus(missing, present)
    if not any(len(times) for times in fitted_spikes):
        raise CellProcessingError("no spikes in any sweep", reason="no_spikes")


def process_cell(
    cache, cell_id, species="", cre_line="", bin_sizes_ms=BIN_SIZES_MS, keep_raw=False, max_rate_sweeps="all",
    unused_sweeps="ignore", download=False,
):
    """Read one cell with allensdk and bin every sweep the model uses.

    Each sweep is binned at its own sampling rate, so a cell whose sweeps were
    recorded at different rates is kept (each sweep stores `sampling_rate_hz`).

    Args:
        max_rate_sweeps: the sweeps whose spikes give the activation's gamma
            (`max_firing_rate_per_ms`, the largest 1/ISI): "all" (default) every
            sweep of the file, whatever its stimulus, as the published
            `utils.get_max_firing_rate` over every sweep `data.py` loads;
            "fitted" only the sweeps the model uses (Long Square, Ramp, Noise 1/2).
        unused_sweeps: "ignore" (default: a sweep the model does not use cannot
            lose the cell) or "check" (as published, which bins every sweep: a
            non-Test sweep whose current never changes, or a spike past the end
            of any sweep, drops the cell).
        download: let allensdk fetch the cell's NWB file from the Allen API
            when the cache lacks it (default: never online; a missing file is a
            `CellProcessingError` with reason "not_in_cache").

    Returns:
        the dict `gfr_keras.processed.write_processed_cell` takes; its root
        `sampling_rate_hz` is the rate of most sweeps. With `keep_raw`, each
        sweep also holds `raw`: `current_pa`, `response_mv`, `spike_times_s`,
        `sampling_rate_hz` and the `window` `(start, stop)` (for plots; not
        written to the processed file).

    Raises:
        CellProcessingError with the reason: not in the local cache (offline), unreadable file, a required stimulus
        (Long Square, Noise 1, Noise 2) missing, no spikes at all in the sweeps
        the model uses, or a sweep that cannot be read or binned.
        ValueError for a `max_rate_sweeps` other than "all" or "fitted".
    """
    if max_rate_sweeps not in MAX_RATE_SWEEPS:
        raise ValueError(f"max_rate_sweeps: expected one of {list(MAX_RATE_SWEEPS)}, got {max_rate_sweeps!r}")
    if unused_sweeps not in UNUSED_SWEEPS:
        raise ValueError(f"unused_sweeps: expected one of {list(UNUSED_SWEEPS)}, got {unused_sweeps!r}")
    data_set, sweep_numbers = _open_data_set(cache, cell_id, download)
    sweeps, fitted_spikes, all_spikes = _bin_sweeps(
        data_set, sweep_numbers, bin_sizes_ms, keep_raw, max_rate_sweeps == "all", unused_sweeps == "check"
    )
    _check_complete(sweeps, fitted_spikes)
    return {
        "cell_id": int(cell_id),
        "max_firing_rate_per_ms": max_firing_rate_per_ms(all_spikes if max_rate_sweeps == "all" else fitted_spikes),
        "sampling_rate_hz": _most_common_rate(sweeps),
        "species": species,
        "cre_line": cre_line,
        "sweeps": sweeps,
    }

"""Allen Cell Types recordings to processed cells, through allensdk (the `allen` extra).

`CellTypesCache` lists cells and opens each cell's NWB file as an `NwbDataSet`;
`gfr_keras.ephys.binning` turns every sweep into binned current and rate
(spec section 5); `gfr_keras.ephys.processed` writes the result. With a manifest of
a real cache, allensdk downloads what is missing from the Allen API; with a
cache written by `gfr synth-cells` everything is already on disk.
"""

import numpy as np

from gfr_keras.ephys.binning import (
    BIN_SIZES_MS,
    REQUIRED_STIMULI,
    STIMULUS_NAMES,
    analysis_window,
    bin_sweep,
    max_firing_rate_per_ms,
)


class CellProcessingError(Exception):
    """A cell that cannot be processed; the message is the reason recorded in failures.csv."""


def open_cache(manifest_path):
    """allensdk's `CellTypesCache` on `manifest_path` (created with its layout if missing)."""
    from allensdk.core.cell_types_cache import CellTypesCache

    return CellTypesCache(manifest_file=str(manifest_path))


def list_cells(cache):
    """The cells of the cache: `{cell_id: {"species": str, "cre_line": str}}`."""
    return {
        int(cell["id"]): {
            "species": cell.get("species") or "",
            "cre_line": cell.get("transgenic_line") or "",
        }
        for cell in cache.get_cells()
    }


def _decode(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def process_cell(cache, cell_id, species="", cre_line="", bin_sizes_ms=BIN_SIZES_MS, keep_raw=False):
    """Read one cell with allensdk and bin every sweep the model uses.

    Returns:
        the dict `gfr_keras.processed.write_processed_cell` takes. With
        `keep_raw`, each sweep also holds `raw`: `current_pa`, `response_mv`,
        `spike_times_s`, `sampling_rate_hz` and the `window` `(start, stop)`
        (for plots; not written to the processed file).

    Raises:
        CellProcessingError with the reason: unreadable file, a required stimulus
        (Long Square, Noise 1, Noise 2) missing, no spikes at all, or a sweep that
        cannot be binned.
    """
    try:
        data_set = cache.get_ephys_data(cell_id)
        sweep_numbers = sorted(data_set.get_sweep_numbers())
    except Exception as error:  # allensdk/h5py raise many kinds for a bad file
        raise CellProcessingError(f"cannot read the NWB file: {type(error).__name__}: {error}") from None

    sweeps = {}
    all_spike_times = []
    sampling_rates = set()
    for sweep_number in sweep_numbers:
        try:
            metadata = data_set.get_sweep_metadata(sweep_number)
            stimulus_name = _decode(metadata.get("aibs_stimulus_name", b""))
            if stimulus_name not in STIMULUS_NAMES:
                continue
            sweep = data_set.get_sweep(sweep_number)
            spike_times = np.asarray(data_set.get_spike_times(sweep_number), dtype=np.float64)
        except Exception as error:
            raise CellProcessingError(
                f"sweep {sweep_number}: cannot read it: {type(error).__name__}: {error}"
            ) from None
        sampling_rate = float(sweep["sampling_rate"])
        sampling_rates.add(sampling_rate)
        current_pa = 1e12 * np.asarray(sweep["stimulus"], dtype=np.float64)
        response_mv = 1e3 * np.asarray(sweep["response"], dtype=np.float64)
        try:
            start, stop = analysis_window(stimulus_name, current_pa, response_mv, sweep["index_range"])
        except ValueError as error:
            raise CellProcessingError(f"sweep {sweep_number}: {error}") from None
        all_spike_times.append(spike_times)
        binned = {"stimulus_name": stimulus_name, "current_pa": {}, "rate_per_ms": {}}
        for bin_size in bin_sizes_ms:
            current, rate = bin_sweep(current_pa, spike_times, sampling_rate, start, stop, bin_size)
            binned["current_pa"][bin_size] = current
            binned["rate_per_ms"][bin_size] = rate
        if keep_raw:
            binned["raw"] = {
                "current_pa": current_pa,
                "response_mv": response_mv,
                "spike_times_s": spike_times,
                "sampling_rate_hz": sampling_rate,
                "window": (start, stop),
            }
        sweeps[sweep_number] = binned

    present = {sweep["stimulus_name"] for sweep in sweeps.values()}
    missing = [name for name in REQUIRED_STIMULI if name not in present]
    if missing:
        raise CellProcessingError(f"missing stimulus: {', '.join(missing)} (has {sorted(present) or 'none'})")
    if not any(len(times) for times in all_spike_times):
        raise CellProcessingError("no spikes in any sweep")
    if len(sampling_rates) != 1:
        raise CellProcessingError(f"sweeps have different sampling rates {sorted(sampling_rates)}")
    return {
        "cell_id": int(cell_id),
        "max_firing_rate_per_ms": max_firing_rate_per_ms(all_spike_times),
        "sampling_rate_hz": sampling_rates.pop(),
        "species": species,
        "cre_line": cre_line,
        "sweeps": sweeps,
    }

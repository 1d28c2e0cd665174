"""The processed-cell HDF5 format: binned current and rate per sweep.

One file per cell, `PROCESSED_DIR/<cell_id>.h5`::

    /                      attrs: cell_id, max_firing_rate_per_ms, sampling_rate_hz,
                                  species, cre_line, format_version, source (optional)
    /sweeps/<sweep_number>/  attrs: stimulus_name, sampling_rate_hz (format 2)
        current_pa_<B>ms     float64 [bins]   mean current in each bin (pA)
        rate_per_ms_<B>ms    float64 [bins]   spikes in the bin / B (1/ms)

for every bin size `B` in `gfr_keras.ephys.binning.BIN_SIZES_MS`. Later stages
read only this format (see docs/processed_format.md). Sweeps may have different
sampling rates (each is binned at its own); format 1 files, written before
sweeps stored theirs, read with every sweep at the root `sampling_rate_hz`.
"""

import json
import os

import h5py
import numpy as np

from gfr_keras.errors import InputError
from gfr_keras.io_utils import atomic_path

FORMAT_VERSION = 2
_ROOT_ATTRS = ("cell_id", "max_firing_rate_per_ms", "sampling_rate_hz", "species", "cre_line")


def write_processed_cell(cell, path):
    """Write one processed cell atomically (temp file, then rename).

    Args:
        cell: dict with the root attributes (`cell_id`, `max_firing_rate_per_ms`,
            `sampling_rate_hz`, `species`, `cre_line`), optionally `source` (where
            the recordings came from, a JSON-ready dict: docs/dataset_format.md),
            and `sweeps`: a dict
            `{sweep_number: {"stimulus_name": str, "current_pa": {B: array},
            "rate_per_ms": {B: array}}}`; a sweep's optional `sampling_rate_hz`
            (default: the root's) is written as its attribute.
        path: destination `.h5` file.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            for key in _ROOT_ATTRS:
                handle.attrs[key] = cell[key]
            handle.attrs["format_version"] = FORMAT_VERSION
            if cell.get("source") is not None:
                handle.attrs["source"] = json.dumps(cell["source"], sort_keys=True)
            sweeps = handle.create_group("sweeps")
            for sweep_number in sorted(cell["sweeps"]):
                sweep = cell["sweeps"][sweep_number]
                group = sweeps.create_group(str(int(sweep_number)))
                group.attrs["stimulus_name"] = sweep["stimulus_name"]
                group.attrs["sampling_rate_hz"] = float(sweep.get("sampling_rate_hz", cell["sampling_rate_hz"]))
                for bin_size, values in sorted(sweep["current_pa"].items()):
                    group.create_dataset(f"current_pa_{bin_size}ms", data=np.asarray(values, np.float64))
                for bin_size, values in sorted(sweep["rate_per_ms"].items()):
                    group.create_dataset(f"rate_per_ms_{bin_size}ms", data=np.asarray(values, np.float64))


def read_processed_cell(path):
    """Read a processed cell file into the dict `write_processed_cell` takes, validated.

    `source` is None for a file written without one (before sources were recorded).

    Raises:
        InputError (a ValueError) naming the file, and the sweep and dataset where one is
        wrong: not HDF5, not in this format, arrays that are not 1-D numbers, a current and
        rate of different lengths, NaN or infinity, a negative rate or sampling rate.
    """
    path = os.fspath(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({error})", path=path, reason="unreadable_file") from None
    with handle:
        missing = [key for key in _ROOT_ATTRS if key not in handle.attrs]
        if missing or not isinstance(handle.get("sweeps"), h5py.Group):
            raise InputError(f"{path}: not a processed cell file (missing {missing or ['/sweeps']})", path=path)
        cell = {key: _plain(handle.attrs[key]) for key in _ROOT_ATTRS}
        cell["source"] = _source(handle.attrs.get("source"), path)
        cell["sweeps"] = {}
        for name, group in handle["sweeps"].items():
            cell["sweeps"][_sweep_number(name, path)] = _read_sweep(group, name, path, cell)
    _check_root(cell, path)
    return cell


def _source(text, path):
    if text is None:
        return None
    try:
        source = json.loads(_plain(text))
    except (TypeError, ValueError):
        source = None
    if not isinstance(source, dict):
        raise InputError(f"{path}: attribute 'source': expected a JSON object, got {_plain(text)!r}", path=path, field="source")
    return source


def _sweep_number(name, path):
    if not name.isdigit():
        raise InputError(f"{path}: /sweeps/{name}: expected a sweep number as the group's name", path=path, field=name)
    return int(name)


def _read_sweep(group, name, path, cell):
    """One sweep group as a dict (current and rate per bin size), checked."""
    where = f"{path}: /sweeps/{name}"
    if not isinstance(group, h5py.Group) or "stimulus_name" not in group.attrs:
        raise InputError(f"{where}: expected a group with a stimulus_name attribute", path=path, field=name)
    sweep = {
        "stimulus_name": _plain(group.attrs["stimulus_name"]),
        # format 1 files have no per-sweep rate: every sweep had the root's
        "sampling_rate_hz": _plain(group.attrs.get("sampling_rate_hz", cell["sampling_rate_hz"])),
        "current_pa": {},
        "rate_per_ms": {},
    }
    sweep["sampling_rate_hz"] = _check_number(sweep["sampling_rate_hz"], f"{where}: sampling_rate_hz", path, positive=True)
    for dataset_name, dataset in group.items():
        kind, _, bin_part = dataset_name.rpartition("_")
        if kind not in ("current_pa", "rate_per_ms") or not bin_part.removesuffix("ms").isdigit():
            raise InputError(f"{where}/{dataset_name}: expected current_pa_<B>ms or rate_per_ms_<B>ms", path=path,
                             field=dataset_name)
        values = dataset[()] if isinstance(dataset, h5py.Dataset) else None
        if not isinstance(values, np.ndarray) or values.ndim != 1 or values.dtype.kind not in "iuf":
            raise InputError(f"{where}/{dataset_name}: expected a 1-D array of numbers", path=path, field=dataset_name)
        if not np.all(np.isfinite(values)) or (kind == "rate_per_ms" and np.any(values < 0)):
            what = "finite rates >= 0 (1/ms)" if kind == "rate_per_ms" else "finite currents (pA)"
            raise InputError(f"{where}/{dataset_name}: expected {what}", path=path, field=dataset_name, reason="bad_values")
        sweep[kind][int(bin_part.removesuffix("ms"))] = values.astype(np.float64)
    for bin_size in sweep["current_pa"].keys() | sweep["rate_per_ms"].keys():
        current, rate = sweep["current_pa"].get(bin_size), sweep["rate_per_ms"].get(bin_size)
        if current is None or rate is None or len(current) != len(rate):
            raise InputError(f"{where}: the current and rate at {bin_size} ms must both be there, of one length",
                             path=path, field=f"{bin_size}ms")
    return sweep


def _check_root(cell, path):
    cell_id = cell["cell_id"]
    if isinstance(cell_id, bool) or not isinstance(cell_id, int) or not 0 <= cell_id < 2**63:
        raise InputError(f"{path}: cell_id: expected a non-negative integer, got {cell_id!r}", path=path, field="cell_id")
    _check_number(cell["max_firing_rate_per_ms"], f"{path}: max_firing_rate_per_ms", path, positive=False)
    _check_number(cell["sampling_rate_hz"], f"{path}: sampling_rate_hz", path, positive=True)
    for key in ("species", "cre_line"):
        if not isinstance(cell[key], str):
            raise InputError(f"{path}: {key}: expected a string, got {cell[key]!r}", path=path, field=key)


def _check_number(value, where, path, positive):
    """A finite number, > 0 (`positive`) or >= 0; else an InputError saying `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0 or (
        positive and value == 0
    ):
        expected = "a finite number > 0" if positive else "a finite number >= 0"
        raise InputError(f"{where}: expected {expected}, got {value!r}", path=path, field=where.rpartition(": ")[2])
    return float(value)


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value

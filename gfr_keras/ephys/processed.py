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
    """Read a processed cell file into the dict `write_processed_cell` takes.

    `source` is None for a file written without one (before sources were recorded).

    Raises:
        ValueError naming the file and what is missing if it is not in this format.
    """
    path = os.fspath(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    with handle:
        missing = [key for key in _ROOT_ATTRS if key not in handle.attrs]
        if missing or "sweeps" not in handle:
            raise ValueError(f"{path}: not a processed cell file (missing {missing or ['/sweeps']})")
        cell = {key: _plain(handle.attrs[key]) for key in _ROOT_ATTRS}
        cell["source"] = _source(handle.attrs.get("source"), path)
        cell["sweeps"] = {}
        for name, group in handle["sweeps"].items():
            sweep = {
                "stimulus_name": _plain(group.attrs["stimulus_name"]),
                # format 1 files have no per-sweep rate: every sweep had the root's
                "sampling_rate_hz": float(_plain(group.attrs.get("sampling_rate_hz", cell["sampling_rate_hz"]))),
                "current_pa": {},
                "rate_per_ms": {},
            }
            for dataset_name, dataset in group.items():
                kind, _, bin_part = dataset_name.rpartition("_")
                bin_size = int(bin_part.removesuffix("ms"))
                sweep[kind][bin_size] = dataset[()]
            cell["sweeps"][int(name)] = sweep
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


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value

"""Preprocessing NWB 2 files: each file to `<cell_id>.h5`, resumable, failures isolated.

As `gfr_keras.ephys.pipeline` does for a CellTypesCache: a cell whose processed
file exists is skipped, every file is written atomically, a file that cannot be
processed goes to `failures.csv` (`cell_id,reason`, the reason naming the file
and sweep) and the run goes on. Also written to the output folder:

* `sweep_warnings.csv` (`cell_id,path,message`): the sweeps each file left out
  (no role for their stimulus name, no stimulus series) and Noise sets too short
  for an EVR; rewritten for the files of each run.
* `nwb_sources.csv` (`cell_id,path`): which file each cell came from.
"""

import csv
import os
import time

from gfr_keras.errors import GFRError, InvalidParameterError, check_finite_number
from gfr_keras.ephys.nwb2 import bin_nwb2_recording, check_nwb2, file_cell_id, nwb_files, read_nwb2_file
from gfr_keras.dataset.provenance import nwb2_source
from gfr_keras.ephys.processed import write_processed_cell
from gfr_keras.io_utils import FailureLog, remove_stale_temp_files, write_csv_atomic


def _planned(files, cell_id):
    """`[(path, cell_id)]`, ids read cheaply (no pynwb); a file whose id cannot be read gets the name's."""
    if cell_id is not None:
        cell_id = check_finite_number(cell_id, "cell_id", minimum=0, integer=True)
    if cell_id is not None and len(files) != 1:
        raise InvalidParameterError(
            f"cell_id: valid with one NWB file only, got {len(files)} files", parameter="cell_id"
        )
    planned = []
    for path in files:
        if cell_id is not None:
            planned.append((path, int(cell_id)))
            continue
        try:
            identifier = check_nwb2(path)
        except (GFRError, OSError):
            identifier = None  # the file fails later with its reason, under the file name's id
        planned.append((path, file_cell_id(path, identifier)))
    return planned


def _process_one(path, cell_id, target, stimulus_map, max_rate_sweeps):
    """`(reason or None, warnings)`: one bad file must not stop the run."""
    warnings = []
    try:
        recording = read_nwb2_file(path, stimulus_map)
        warnings = recording["warnings"]  # kept when the cell fails: they often say why
        cell, warnings = bin_nwb2_recording(recording, cell_id, max_rate_sweeps)
        cell["source"] = nwb2_source([path])  # a dataset fitted to it says where its cells came from
        write_processed_cell(cell, target)
    except GFRError as error:
        return str(error), warnings
    except Exception as error:
        return f"{path}: unexpected {type(error).__name__}: {error}", warnings
    return None, warnings


def _merged_rows(csv_path, fresh_rows, cell_ids):
    """The rows of an existing CSV for cells not in `cell_ids`, then `fresh_rows`."""
    kept = []
    if os.path.exists(csv_path):
        with open(csv_path, newline="") as handle:
            kept = [row for row in list(csv.reader(handle))[1:] if row and int(row[0]) not in cell_ids]
    return kept + fresh_rows


def preprocess_nwb_files(paths, out_dir, stimulus_map=None, cell_id=None, max_rate_sweeps="all"):
    """Bin every NWB 2 file of `paths` (files or folders) into `out_dir/<cell_id>.h5`.

    Args:
        paths: NWB 2 files, or folders searched recursively for `*.nwb`.
        out_dir: output folder (also `failures.csv`, `sweep_warnings.csv`, `nwb_sources.csv`).
        stimulus_map: optional `StimulusMap` for stimulus names the built-in tables do not know.
        cell_id: the cell id, valid with one file only (default: from the file, `file_cell_id`).
        max_rate_sweeps: "all" or "fitted" (`sweeps.process_sweeps`).

    Returns:
        dict: `done`, `skipped`, `failed` (cell ids), `failures` (id -> reason),
        `warnings` (messages), `failures_path`, `warnings_path`, `seconds`.
    """
    files = nwb_files(paths)
    planned = _planned(files, cell_id)
    os.makedirs(out_dir, exist_ok=True)
    remove_stale_temp_files(out_dir)
    failures = FailureLog(os.path.join(out_dir, "failures.csv"))
    summary = {"done": [], "skipped": [], "failed": [], "warnings": [], "failures_path": failures.path,
               "warnings_path": os.path.join(out_dir, "sweep_warnings.csv")}
    started, seen, warning_rows = time.perf_counter(), {}, []
    for path, cell in planned:
        target = os.path.join(out_dir, f"{cell}.h5")
        if cell in seen:
            reason = f"{path}: cell id {cell} is also the id of {seen[cell]}; process one of them with its own cell_id"
            summary["failed"].append(cell)
            failures.add(cell, reason)
            continue
        seen[cell] = path
        if os.path.exists(target):
            summary["skipped"].append(cell)
            continue
        reason, warnings = _process_one(path, cell, target, stimulus_map, max_rate_sweeps)
        warning_rows += [[cell, path, message] for message in warnings]
        summary["warnings"] += warnings
        if reason is None:
            summary["done"].append(cell)
            failures.clear(cell)
        else:
            summary["failed"].append(cell)
            failures.add(cell, reason)
    tried = set(summary["done"]) | set(summary["failed"])  # a skipped cell keeps its earlier warnings
    write_csv_atomic(summary["warnings_path"], ["cell_id", "path", "message"],
                     _merged_rows(summary["warnings_path"], warning_rows, tried))
    sources = os.path.join(out_dir, "nwb_sources.csv")
    write_csv_atomic(sources, ["cell_id", "path"], _merged_rows(sources, [[c, p] for c, p in seen.items()], set(seen)))
    summary["failures"] = {c: failures.reasons[c] for c in summary["failed"] if c in failures.reasons}
    summary["seconds"] = time.perf_counter() - started
    return summary

"""Preprocessing a whole cache: every cell to `<cell_id>.h5`, resumable, failures isolated.

A cell whose file exists is skipped; every file is written under a temporary name
and renamed, so a killed run leaves no half-written file. A cell that fails goes
to `failures.csv` with its reason and the run goes on; a rerun tries it again.
"""

import csv
import functools
import os
import time

from tqdm import tqdm

from gfr_keras.ephys.allen import CellProcessingError, list_cells, open_cache, process_cell
from gfr_keras.dataset.provenance import allen_source
from gfr_keras.ephys.processed import write_processed_cell
from gfr_keras.ephys.cell_bank import BANK_DESCRIPTION
from gfr_keras.errors import InputError, MissingInputError
from gfr_keras.io_utils import FailureLog, read_json, remove_stale_temp_files, write_csv_atomic
from gfr_keras.process_pool import run_jobs


def read_cell_ids(path):
    """Cell ids from a CSV: one per line, optionally under a header; errors name the file and line."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{path}: not a CSV text file of cell ids ({error})", path=path) from None
    ids = []
    for line_number, row in enumerate(rows, start=1):
        if not row or not row[0].strip():
            continue
        value = row[0].strip()
        if line_number == 1 and not value.lstrip("-").replace(".", "", 1).isdigit():
            continue  # a header
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        # Cell ids are int64 in every file this project writes.
        if not (0 <= number < 2**63) or number != int(number):
            raise InputError(
                f"{path}: line {line_number}: expected a cell id, got {value!r} (an integer from 0 to 2**63 - 1)",
                path=path, record=line_number,
            )
        ids.append(int(number))
    return ids


def open_manifest(manifest_path, download=False):
    """The `CellTypesCache` of `manifest_path`; never goes online unless `download` is set."""
    if not os.path.exists(manifest_path) and not download:
        raise MissingInputError(
            f"manifest_path: {manifest_path} does not exist. Point it at a CellTypesCache manifest.json "
            f"(e.g. one written by `gfr synth-cells`), or let allensdk create it and download cells from the "
            f"Allen Cell Types API, online (download=True).",
            parameter="manifest_path", path=manifest_path,
        )
    if os.path.exists(manifest_path):
        _check_manifest(manifest_path)
    return open_cache(manifest_path)


def cache_source(manifest_path, download=False):
    """Where a cache's cells come from: the bank description `gfr synth-cells` writes beside the
    manifest (`bank.json`), else Allen Cell Types recordings read through allensdk."""
    bank = os.path.join(os.path.dirname(os.path.abspath(manifest_path)), BANK_DESCRIPTION)
    if os.path.exists(bank):
        return read_json(bank)
    return allen_source(manifest_path, downloaded=download)


def _check_manifest(manifest_path):
    """allensdk reads a manifest without checking it (an empty file ends in `KeyError: 'manifest'`)."""
    if os.path.isdir(manifest_path):
        raise InputError(
            f"manifest_path: {manifest_path} is a folder; expected its manifest.json", parameter="manifest_path",
            path=manifest_path,
        )
    if os.path.getsize(manifest_path) == 0:
        raise InputError(
            f"manifest_path: {manifest_path} is empty; expected a CellTypesCache manifest (JSON)",
            parameter="manifest_path", path=manifest_path, reason="empty_file",
        )
    manifest = read_json(manifest_path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("manifest"), list):
        raise InputError(
            f"manifest_path: {manifest_path} is not a CellTypesCache manifest (expected a JSON object with a "
            "'manifest' list)", parameter="manifest_path", path=manifest_path,
        )


def _process_one(cache, cell_id, info, target, keep_raw, on_cell, max_rate_sweeps, unused_sweeps="ignore", download=False):
    """Process and write one cell: None, or `(message, reason code)` of its failure (one bad cell must not
    stop the run; the code is `CellProcessingError.reason`, or `"unexpected"`)."""
    try:
        cell = process_cell(
            cache, cell_id, info["species"], info["cre_line"], keep_raw=keep_raw, max_rate_sweeps=max_rate_sweeps,
            unused_sweeps=unused_sweeps, download=download,
        )
        cell["source"] = info.get("source")
        if on_cell is not None:
            on_cell(cell)
        write_processed_cell(cell, target)
    except CellProcessingError as error:
        return str(error), error.reason or "unprocessable"
    except Exception as error:
        return f"unexpected {type(error).__name__}: {error}", "unexpected"
    return None


_WORKER_CACHES = {}  # a worker process opens each cache once, for all the cells it is given


def _process_in_worker(manifest_path, *cell_args):
    if manifest_path not in _WORKER_CACHES:
        _WORKER_CACHES[manifest_path] = open_cache(manifest_path)
    return _process_one(_WORKER_CACHES[manifest_path], *cell_args)


def _outcomes(manifest_path, cache, jobs, workers):
    """`(cell_id, reason or None)` for each job `(cell_id, info, target, keep_raw, on_cell, max_rate_sweeps, unused_sweeps, download)`,
    in this process or in `workers` processes (`process_pool.run_jobs`)."""
    in_worker = functools.partial(_process_in_worker, os.fspath(manifest_path))
    for job, outcome in run_jobs(functools.partial(_process_one, cache), jobs, workers, worker_function=in_worker):
        yield job[0], outcome


def preprocess_cells(
    manifest_path, out_dir, cell_ids=None, keep_raw=False, on_cell=None, download=False, max_rate_sweeps="all",
    workers=1,
    unused_sweeps="ignore",
):
    """Bin every cell of a cache into `out_dir/<cell_id>.h5`.

    Args:
        manifest_path: the `CellTypesCache` manifest.
        out_dir: output folder; also gets `failures.csv` and (without `cell_ids`) `cell_ids.csv`.
        cell_ids: cells to process (default: every cell of the cache).
        keep_raw: keep the raw sweeps in memory for `on_cell` (figures).
        on_cell: called with each processed cell before it is written (picklable when `workers` > 1).
        download: allow allensdk to go online (a missing manifest, cell list or
            NWB file is fetched from the Allen API). Without it nothing is fetched
            and nothing is written into the cache: a cell whose NWB file is not on
            disk fails with "not in the local cache".
        max_rate_sweeps: "all" (default, as published) or "fitted": the sweeps
            whose spikes give gamma (see `process_cell`).
        workers: processes; cells are independent, so 2 on 2 cores take about half the time.
        unused_sweeps: "ignore" (default) or "check": drop a cell whose unused
            sweeps the published preprocessing could not bin (see `process_cell`).

    Returns:
        dict of lists `done`, `skipped`, `failed` (cell ids), `failures` (id -> reason, every cell of
        failures.csv), `failure_kinds` (id -> reason code, the cells failed in this run), `failures_path`
        (None when failures.csv was not written), `seconds`. Each file records the cache's source
        (`cache_source`) in its `source` attribute.
    """
    cache = open_manifest(manifest_path, download)
    cells = list_cells(cache, download)
    source = cache_source(manifest_path, download)
    os.makedirs(out_dir, exist_ok=True)
    remove_stale_temp_files(out_dir)
    if cell_ids is None:
        cell_ids = sorted(cells)
        write_csv_atomic(os.path.join(out_dir, "cell_ids.csv"), ["cell_id"], [[c] for c in cell_ids])
    failures = FailureLog(os.path.join(out_dir, "failures.csv"))
    summary = {"done": [], "skipped": [], "failed": [], "failures_path": failures.path}
    started = time.perf_counter()
    jobs = _jobs(out_dir, cell_ids, cells, source, summary, (keep_raw, on_cell, max_rate_sweeps, unused_sweeps, download))
    _process_jobs(manifest_path, cache, jobs, workers, len(cell_ids), failures, summary)
    summary["failures"] = dict(failures.reasons)
    summary["failures_path"] = failures.path if os.path.exists(failures.path) else None
    summary["seconds"] = time.perf_counter() - started
    return summary


def _jobs(out_dir, cell_ids, cells, source, summary, options):
    """`_process_one`'s arguments for each cell without a processed file (`options`: from `keep_raw` to
    `download`); the cells with one go to `summary["skipped"]`."""
    jobs = []
    for cell_id in cell_ids:
        target = os.path.join(out_dir, f"{cell_id}.h5")
        if os.path.exists(target):
            summary["skipped"].append(cell_id)
        else:
            info = {**cells.get(cell_id, {"species": "", "cre_line": ""}), "source": source}
            jobs.append((cell_id, info, target, *options))
    return jobs


def _process_jobs(manifest_path, cache, jobs, workers, n_cells, failures, summary):
    """Process the jobs, recording each outcome in `summary` and the failure log (written here alone)."""
    progress = tqdm(total=n_cells, initial=len(summary["skipped"]), desc="preprocess", unit="cell")
    summary["failure_kinds"] = {}
    for cell_id, outcome in _outcomes(manifest_path, cache, jobs, workers):
        progress.update(1)
        if outcome is None:
            summary["done"].append(cell_id)
            failures.clear(cell_id)
            continue
        message, summary["failure_kinds"][cell_id] = outcome
        summary["failed"].append(cell_id)
        failures.add(cell_id, message)
        progress.write(f"cell {cell_id}: failed: {message}")
    progress.close()

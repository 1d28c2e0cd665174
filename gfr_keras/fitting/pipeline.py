"""Fitting a folder of processed cells: chunks of cells at a time, resumable, failures isolated.

Writes one JSON file per cell, `FITS_DIR/<cell_id>.json` (params, EVRs, loss
curves, status), atomically; a rerun skips cells already written, so a killed
run resumes with the chunk it was in. A processed file that cannot be read goes
to `FITS_DIR/failures.csv` with the reason; every other cell is fitted.
`shard=(i, n)` fits every n-th cell (deterministic), so several machines can
share a configuration.

The folder records the settings its fits depend on (`gfr_settings.json`, see
`gfr_keras.run_settings`): the configuration, degree, C and the fit config's
values (penalty, padding rule, learning-rate runs, seed, ...). A rerun with
other settings stops before any work (`RunStateError`); it never counts the
cells fitted with other settings as done. A folder fitted before the record
existed is accepted when every fit file in it agrees with the settings (the
record is then written); otherwise it is refused the same way.

With the fit config's `retrain_model` (the published `model_pipeline` rule) every
cell is fitted again: one with a successful fit keeps its saved activation g
(and with `finetune` starts from its saved alpha and beta), and its file is
replaced only when the new validation EVR is higher than the saved one.
"""

import functools
import math
import os
import time

from tqdm import tqdm

from gfr_keras.dataset.fits import is_ok, read_fits
from gfr_keras.dataset.provenance import UNKNOWN_SOURCE, fit_settings, package_version, today
from gfr_keras.ephys.processed import read_processed_cell
from gfr_keras.errors import InvalidParameterError, RunStateError, check_finite_number
from gfr_keras.fitting.config import FitConfig
from gfr_keras.fitting.trainer import fit_cells
from gfr_keras.io_utils import FailureLog, read_json_if_present, require_folder, write_json_atomic
from gfr_keras.neurons.timescales import CONFIGURATIONS
from gfr_keras.run_settings import (
    check_settings, describe_differences, flat_settings, settings_differences, write_settings,
)

FIT_FOLDER = "fit folder"
#: Fit config keys that say how a run proceeds, not what a fit is: `retrain_model` refits into a folder
#: made without it (the published rerun), so they are left out of the folder's settings.
RUN_MODE_KEYS = ("retrain_model", "finetune")
_REMEDY = "fit into another folder, or delete this one to fit it again with these settings"


def fit_folder_settings(bin_size_ms, activation_bin_size_ms, config=None, degree=1, C=0.0):
    """The settings a fit folder's results depend on, as recorded in its `gfr_settings.json`.

    The configuration (ms), the activation degree, the penalty weight `C` and
    every value of the `FitConfig` (its name, penalty, padding rule, learning-rate
    runs, seed, ...) except the run-mode keys `RUN_MODE_KEYS`.
    """
    fit_config = FitConfig.coerce(config).to_dict()
    for key in RUN_MODE_KEYS:
        fit_config.pop(key, None)
    return {
        "bin_size_ms": int(bin_size_ms),
        "activation_bin_size_ms": int(activation_bin_size_ms),
        "degree": int(degree),
        "C": float(C),
        "fit_config": fit_config,
    }


def _current_layout(recorded):
    """A record's fit config with the keys added since it was written at their defaults."""
    try:
        fit_config = FitConfig.from_dict(recorded.get("fit_config", {})).to_dict()
    except ValueError:  # unknown keys (a newer version): compare as written
        return recorded
    return {**recorded, "fit_config": {k: v for k, v in fit_config.items() if k not in RUN_MODE_KEYS}}


def _legacy_differences(out_dir, settings):
    """Differences between `settings` and what the fit files of an unrecorded folder say they were made with."""
    fitted_with = {
        "bin_size_ms": "bin_size", "activation_bin_size_ms": "actv_bin_size", "degree": "degree", "C": "C",
        "fit_config.config_name": "config",
    }
    wanted = flat_settings(settings)
    for fit in read_fits([out_dir]):
        found = {key: fit.get(name) for key, name in fitted_with.items()}
        differences = settings_differences(found, {key: wanted[key] for key in fitted_with})
        if differences:
            return differences, fit["_path"]
    return [], None


def check_fit_folder(out_dir, settings):
    """Whether `out_dir` may receive fits made with `settings`; reads only.

    Returns:
        "new" (no record, no fit files), "recorded" (a record with the same
        settings) or "unrecorded" (fit files made before records, all agreeing).

    Raises:
        RunStateError: the record, or a fit file of an unrecorded folder, says other settings.
    """
    if check_settings(out_dir, FIT_FOLDER, settings, _REMEDY, normalize=_current_layout) is not None:
        return "recorded"
    if not os.path.isdir(out_dir) or not any(name.endswith(".json") and name[:-5].isdigit() for name in os.listdir(out_dir)):
        return "new"
    differences, path = _legacy_differences(out_dir, settings)
    if differences:
        raise RunStateError(
            f"{out_dir} holds fits made with other settings ({path}: {describe_differences(differences)}); {_REMEDY}",
            path=out_dir,
            reason="settings_differ",
        )
    return "unrecorded"


def claim_fit_folder(out_dir, settings):
    """`check_fit_folder`, then create the folder and write its record if it has none.

    Returns:
        a one-line note for an unrecorded folder whose record was written now, else None.
    """
    state = check_fit_folder(out_dir, settings)
    if state == "recorded":
        return None
    os.makedirs(out_dir, exist_ok=True)
    write_settings(out_dir, FIT_FOLDER, settings)
    if state == "unrecorded":
        return (f"{out_dir}: fitted before folders recorded their settings; its fit files agree with these "
                f"settings (configuration, degree, C, config name), now recorded in gfr_settings.json")
    return None


def parse_shard(text):
    """`"i/n"` -> `(i, n)` with 0 <= i < n."""
    try:
        index, count = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise InvalidParameterError(f"shard: expected i/n such as 0/4, got {text!r}", parameter="shard") from None
    if count < 1 or not 0 <= index < count:
        raise InvalidParameterError(f"shard: expected 0 <= i < n, got {text!r}", parameter="shard")
    return index, count


def processed_paths(processed_dir, shard=(0, 1)):
    """The `<cell_id>.h5` files of a folder, sorted by cell id, every n-th from the i-th."""
    require_folder(processed_dir, "processed_dir")
    names = [p for p in os.listdir(processed_dir) if p.endswith(".h5") and p[:-3].isdigit()]
    index, count = shard
    return [os.path.join(processed_dir, p) for p in sorted(names, key=lambda p: int(p[:-3]))[index::count]]


def _read_chunk(paths, failures, read_cell=read_processed_cell):
    cells = []
    for path in paths:
        try:
            cells.append(read_cell(path))
        except Exception as error:  # a corrupt file must not stop the other cells
            failures.add(int(os.path.basename(path)[:-3]), f"cannot read {path}: {type(error).__name__}: {error}")
    return cells


def _saved_fit(out_dir, cell_id):
    """A cell's successful fit in `out_dir` (the start of a retrain), or None."""
    fit = read_json_if_present(os.path.join(out_dir, f"{cell_id}.json"))
    return fit if fit is not None and is_ok(fit) and fit.get("params") else None


def improves(new, old):
    """The published keep-if-better rule: replace `old` when `new` fitted and its validation EVR is higher.

    A saved fit without a finite validation EVR (the published code would have
    saved none) is always replaced by a successful new one.
    """
    if old is None:
        return True
    if new["status"] != "ok":
        return False
    old_evr = old.get("val_evr")
    return old_evr is None or not math.isfinite(old_evr) or new["val_evr"] > old_evr


def _fit_provenance(config, degree, C):
    """How this run fits (config values, degree, C, Keras backend, version, date), for every fit file."""
    import keras

    return fit_settings(config=config.to_dict(), degree=degree, C=C, backend=keras.backend.backend(),
                        date=today(), version=package_version())


def _fit_header(bin_size_ms, activation_bin_size_ms, degree, C, config_name):
    """The keys every fit file of a folder shares, in the published layout (docs/dataset_format.md)."""
    return {"bin_size": bin_size_ms, "actv_bin_size": activation_bin_size_ms, "degree": degree, "C": C, "config": config_name}


def _write_fit(cell, result, out_dir, header, fit_provenance=None):
    """`out_dir/<cell_id>.json`, atomically: the cell, the folder's `header` (`_fit_header`), the fit
    result and its provenance (the processed file's source, how it was fitted; docs/dataset_format.md)."""
    record = {
        "cell_id": cell["cell_id"],
        "cre_line": cell["cre_line"],
        "species": cell["species"],
        **header,
        **result,
        "provenance": {"source": cell.get("source") or dict(UNKNOWN_SOURCE), "fit": fit_provenance},
    }
    write_json_atomic(record, os.path.join(out_dir, f"{cell['cell_id']}.json"))


def _check_fit_arguments(bin_size_ms, activation_bin_size_ms, degree, C, chunk_size):
    if (bin_size_ms, activation_bin_size_ms) not in CONFIGURATIONS:
        raise InvalidParameterError(
            f"bin_size_ms/activation_bin_size_ms: expected one of {[list(c) for c in CONFIGURATIONS]}, "
            f"got [{bin_size_ms}, {activation_bin_size_ms}]",
            parameter="bin_size_ms",
        )
    check_finite_number(chunk_size, "chunk_size", minimum=1, integer=True)
    check_finite_number(degree, "degree", minimum=1, integer=True)  # 0: g would not depend on the current
    check_finite_number(C, "C", minimum=0)


def _fit_chunk(cells, out_dir, retrain, fit, write, failures):
    """Fit one chunk of cells and write the fits that are new or (`retrain`) better than the saved ones.

    `fit(cells, previous=...)` is `fit_cells` with the folder's settings; `write(cell, result)` writes
    one fit file. Returns `(statuses, kept)`: cell id -> the fit that stands in the folder, and the ids
    whose saved fit was better and stays.
    """
    previous = [_saved_fit(out_dir, c["cell_id"]) if retrain else None for c in cells]
    results = fit(cells, previous=previous) if cells else []
    statuses, kept = {}, []
    for cell, result, old in zip(cells, results, previous):
        if not improves(result, old):
            kept.append(cell["cell_id"])
            statuses[cell["cell_id"]] = old
            continue
        write(cell, result)
        failures.clear(cell["cell_id"])
        statuses[cell["cell_id"]] = result
    return statuses, kept


def fit_folder(processed_dir, out_dir, bin_size_ms, activation_bin_size_ms, config=None, degree=1, C=0.0,
               chunk_size=200, shard=(0, 1), read_cell=read_processed_cell):
    """Fit every processed cell of `processed_dir` not yet fitted in `out_dir`.

    Args:
        bin_size_ms, activation_bin_size_ms: the configuration, one of `CONFIGURATIONS`.
        config: the fit config, a `FitConfig` or a dict of overrides (default: the published one).
        degree: the activation polynomial's degree. C: L1 penalty on alpha and beta.
        chunk_size: cells fitted together as one population.
        read_cell: reads one processed file (`read_processed_cell`); a caching
            reader lets several configurations share one read of each file.

    Returns:
        dict: `results` (cell id -> fit result), `failures` (id -> reason, from
        failures.csv), `todo`, `already_done` (counts), `kept` (retrain: ids whose
        saved fit was better and stays), `settings_note` (a line for a folder
        fitted before settings were recorded, else None), `seconds`.

    Raises:
        RunStateError: `out_dir` holds fits made with other settings (before any work).
    """
    _check_fit_arguments(bin_size_ms, activation_bin_size_ms, degree, C, chunk_size)
    config = FitConfig.coerce(config)
    paths = processed_paths(processed_dir, shard)
    settings_note = claim_fit_folder(out_dir, fit_folder_settings(bin_size_ms, activation_bin_size_ms, config, degree, C))
    fitted = lambda path: os.path.exists(os.path.join(out_dir, os.path.basename(path)[:-3] + ".json"))
    todo = list(paths) if config.retrain_model else [p for p in paths if not fitted(p)]
    failures = FailureLog(os.path.join(out_dir, "failures.csv"))
    header = _fit_header(bin_size_ms, activation_bin_size_ms, degree, C, config.config_name)
    provenance = _fit_provenance(config, degree, C)
    fit = functools.partial(fit_cells, bin_size_ms=bin_size_ms, activation_bin_size_ms=activation_bin_size_ms,
                            degree=degree, C=C, config=config)
    write = lambda cell, result: _write_fit(cell, result, out_dir, header, provenance)
    started = time.perf_counter()
    progress = tqdm(total=len(todo), desc="fit", unit="cell")
    statuses, kept = {}, []
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        cells = _read_chunk(chunk, failures, read_cell)
        chunk_statuses, chunk_kept = _fit_chunk(cells, out_dir, config.retrain_model, fit, write, failures)
        statuses.update(chunk_statuses)
        kept += chunk_kept
        progress.update(len(chunk))
        progress.set_postfix(cells_per_s=f"{progress.n / (time.perf_counter() - started):.2f}")
    progress.close()
    return {
        "results": statuses,
        "failures": dict(failures.reasons),
        "failures_path": failures.path,
        "todo": len(todo),
        "already_done": len(paths) - len(todo),
        "kept": kept,
        "settings_note": settings_note,
        "seconds": time.perf_counter() - started,
    }

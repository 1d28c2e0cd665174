"""From per-cell fit files to dataset records (spec section 4), with the table of counts."""

import numpy as np

from gfr_keras.dataset.fits import is_ok
from gfr_keras.dataset.filters import passes_filters
from gfr_keras.dataset.records import validate_record
from gfr_keras.errors import InputError
from gfr_keras.neurons.timescales import CONFIGURATIONS


def _record(fit, configuration):
    return {
        "cell_id": int(fit["cell_id"]),
        # null, not "", when the cell has no cre line (human cells), as the published file has NaN
        "cre-line": fit.get("cre_line") or None,
        "bin_size": configuration[0],
        "actv_bin_size": configuration[1],
        "val_evr": fit["val_evr"],
        "test_evr": fit["test_evr"],
        "train_loss": fit["train_loss"],
        "test_loss": fit["test_loss"],
        "params": fit["params"],
    }


def build_records(fits):
    """Dataset records from the fits that pass the published filters.

    Returns:
        `(records, table)`: records sorted by configuration and cell id; `table`
        maps each configuration to counts (`fitted`, `ok`, `kept`) and the test
        EVRs of all fitted cells and of the kept ones.

    Raises:
        InputError (a ValueError) naming the file of a fit at an unknown configuration,
        of a cell fitted twice at one configuration, or of a kept fit whose record is
        malformed (`validate_record`).
    """
    records = []
    table = {c: {"fitted": 0, "ok": 0, "kept": 0, "test_evr": [], "all_test_evr": []} for c in CONFIGURATIONS}
    seen = {}
    for fit in fits:
        configuration = (fit["bin_size"], fit["actv_bin_size"])
        if configuration not in table:
            raise InputError(
                f"{fit['_path']}: configuration {list(configuration)} is not one of {[list(c) for c in CONFIGURATIONS]}",
                path=fit["_path"],
            )
        ident = (fit["cell_id"], *configuration)
        if ident in seen:
            raise InputError(
                f"{fit['_path']}: cell {fit['cell_id']} at {list(configuration)} is also in {seen[ident]}", path=fit["_path"]
            )
        seen[ident] = fit["_path"]
        row = table[configuration]
        row["fitted"] += 1
        row["ok"] += is_ok(fit)
        if is_ok(fit) and fit.get("test_evr") is not None:
            row["all_test_evr"].append(fit["test_evr"])
        if passes_filters(fit):
            row["kept"] += 1
            row["test_evr"].append(fit["test_evr"])
            records.append(_record(fit, configuration))
            validate_record(records[-1], fit["_path"])  # the error names the fit file, not the dataset
    records.sort(key=lambda r: (r["bin_size"], r["actv_bin_size"], r["cell_id"]))
    return records, table


def format_table(table):
    """`build_records`' table as Markdown: counts and median test EVRs per configuration."""
    lines = [
        "bin size | activation bin size | cells fitted | fit ok | in dataset | median test EVR, all fitted | median test EVR, in dataset",
        "---:|---:|---:|---:|---:|---:|---:",
    ]
    for (bin_size, actv), row in table.items():
        medians = [f"{np.median(v):.3f}" if v else "-" for v in (row["all_test_evr"], row["test_evr"])]
        lines.append(f"{bin_size} | {actv} | {row['fitted']} | {row['ok']} | {row['kept']} | {medians[0]} | {medians[1]}")
    return "\n".join(lines)


def _record_key(record):
    return (int(record["cell_id"]), int(record["bin_size"]), int(record["actv_bin_size"]))


def fit_provenance(fit):
    """`(source, fit settings)` a fit file records (`gfr fit` writes them under `provenance`).

    Fit files written before sources were recorded give the `unknown` source and
    the settings they do hold (config name, degree, C); a file that records more
    (a fit folder's settings, say) adds nothing here unless it is under `provenance`.
    """
    from gfr_keras.dataset.provenance import UNKNOWN_SOURCE, fit_settings

    recorded = fit.get("provenance") if isinstance(fit.get("provenance"), dict) else {}
    source = recorded.get("source") or dict(UNKNOWN_SOURCE)
    settings = recorded.get("fit") or fit_settings(config=fit.get("config"), degree=fit.get("degree"), C=fit.get("C"))
    return source, settings


def build_dataset(fits, merge_with=None):
    """Dataset records and their provenance from fits, optionally merged over an existing dataset file.

    Args:
        fits: fit dicts (`read_fits`).
        merge_with: path of a dataset file (ours, or the published one): its records
            are kept, except where a fit that passes the filters has the same cell
            and configuration (the fit replaces it). Its sidecar's provenance is kept;
            without one its records are attributed to the file ("provenance not recorded").

    Returns:
        `(records, table, provenance, replaced)`: `table` as `build_records` gives it
        (counts of the fits alone), `replaced` the number of existing records replaced.
    """
    from gfr_keras.dataset.provenance import ProvenanceBuilder, read_provenance
    from gfr_keras.dataset.records import read_dataset

    records, table = build_records(fits)
    builder = ProvenanceBuilder()
    existing, replaced = [], 0
    if merge_with is not None:
        existing = read_dataset(merge_with)
        builder.add_dataset(existing, read_provenance(merge_with), merge_with)
        new_keys = {_record_key(r) for r in records}
        kept = [r for r in existing if _record_key(r) not in new_keys]
        replaced, existing = len(existing) - len(kept), kept
    fit_by_key = {_record_key(fit): fit for fit in fits}
    for record in records:
        builder.add(record, *fit_provenance(fit_by_key[_record_key(record)]))
    merged = sorted(existing + records, key=lambda r: (r["bin_size"], r["actv_bin_size"], r["cell_id"]))
    return merged, table, builder.provenance(), replaced

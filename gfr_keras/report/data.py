"""What the report shows, gathered per cell: dataset records, fits, recordings, metadata.

A cell entry is `{"cell_id", "species", "cre_line", "processed_path", "configurations"}`
with `configurations[(bin_size, actv_bin_size)] = {"record", "in_dataset", "passes"}`, one entry per
configuration (model bin, activation bin) the cell has a record or a fit at.
The index payload is columnar (one array per column, one value per cell) so the
browser filters 2,333 cells x 6 configurations with plain array loops.
"""

import os

import gfr_keras as gk
from gfr_keras.allen_metadata import species_by_cell
from gfr_keras.dataset.filters import MAX_TRAIN_LOSS, MIN_VAL_EVR, passes_filters
from gfr_keras.dataset.fits import read_fits
from gfr_keras.io_utils import require_folder

ALLEN_CELL_URL = "https://celltypes.brain-map.org/experiment/electrophysiology/{cell_id}"
UNKNOWN_SPECIES = "unknown"


def collect_cells(dataset_path, fits_dirs=(), processed_dirs=()):
    """Validate the dataset and gather every cell it (or a fit folder) holds.

    Raises:
        gk.DatasetError naming the record and field of the first malformed record;
        MissingInputError (a FileNotFoundError) for a `processed_dirs`/`fits_dirs` path that is not a folder.
    """
    records = gk.read_dataset(dataset_path)
    cells = {}
    for record in records:
        cell = _cell(cells, record["cell_id"])
        cell["cre_line"] = cell["cre_line"] or cre_line_text(record["cre-line"])
        # Dataset records carry no fit status: being in the dataset means the fit succeeded.
        cell["configurations"][_configuration(record)] = {
            "record": record,
            "in_dataset": True,
            "passes": bool(passes_filters({**record, "status": "ok"})),
        }
    skipped = _add_fits(cells, fits_dirs, passes_filters)
    _attach_processed(cells, processed_dirs)
    _fill_species(cells)
    return dict(sorted(cells.items())), {"n_records": len(records), "fits_skipped": skipped}


def cre_line_text(value):
    """A record's cre line as text: "" for none (human cells: null, or NaN in the published file)."""
    return value if isinstance(value, str) else ""


def _cell(cells, cell_id):
    return cells.setdefault(
        int(cell_id),
        {"cell_id": int(cell_id), "species": "", "cre_line": "", "processed_path": None, "configurations": {}},
    )


def _configuration(record):
    return (int(record["bin_size"]), int(record["actv_bin_size"]))


def _add_fits(cells, fits_dirs, passes_filters):
    """Fits add species and the cells/configurations the filters kept out of the dataset."""
    for folder in fits_dirs:
        require_folder(folder, "fits_dirs")
    skipped = 0
    for fit in read_fits(list(fits_dirs)):
        cell = _cell(cells, fit["cell_id"])
        cell["species"] = cell["species"] or (fit.get("species") or "")
        cell["cre_line"] = cell["cre_line"] or cre_line_text(fit.get("cre_line"))
        configuration = (int(fit["bin_size"]), int(fit["actv_bin_size"]))
        if configuration in cell["configurations"]:
            continue  # the dataset's record wins
        record = {
            "cell_id": int(fit["cell_id"]), "cre-line": fit.get("cre_line") or "",
            "bin_size": configuration[0], "actv_bin_size": configuration[1],
            **{key: fit.get(key) for key in ("val_evr", "test_evr", "train_loss", "test_loss")},
            "params": fit.get("params"),
        }
        try:
            gk.validate_record(record, fit["_path"])
        except gk.DatasetError:
            skipped += 1  # a failed fit has no usable parameters to show
            continue
        cell["configurations"][configuration] = {"record": record, "in_dataset": False, "passes": bool(passes_filters(fit))}
    for cell_id in [c for c, cell in cells.items() if not cell["configurations"]]:
        del cells[cell_id]  # every fit of this cell failed
    return skipped


def _attach_processed(cells, processed_dirs):
    for folder in processed_dirs:
        require_folder(folder, "processed_dirs")
        for name in sorted(os.listdir(folder)):
            stem = name[:-3]
            if name.endswith(".h5") and stem.isdigit() and int(stem) in cells:
                cell = cells[int(stem)]
                cell["processed_path"] = cell["processed_path"] or os.path.join(folder, name)


def _fill_species(cells):
    """Species is not in dataset records: take it from fits, else Allen's table (recordings override later)."""
    missing = [cell for cell in cells.values() if not cell["species"]]
    if missing:
        species = species_by_cell()
        for cell in missing:
            value = species.get(cell["cell_id"])
            cell["species"] = value if isinstance(value, str) else ""
    for cell in cells.values():
        cell["species"] = cell["species"] or UNKNOWN_SPECIES


def _rounded(value, digits=4):
    return None if value is None or value != value else round(float(value), digits)


def index_payload(cells, configurations, dataset_name, provenance=""):
    """The index's data: columns of cell metadata, then per configuration EVRs, filters, params.

    `provenance` is the sentence saying what the dataset is (`describe_provenance`).
    """
    cells = list(cells.values())
    min_val_evr, max_train_loss = MIN_VAL_EVR, MAX_TRAIN_LOSS
    species = sorted({cell["species"] for cell in cells})
    cre_lines = sorted({cell["cre_line"] for cell in cells})
    species_code = {name: code for code, name in enumerate(species)}
    cre_code = {name: code for code, name in enumerate(cre_lines)}
    per_configuration = []
    for configuration in configurations:
        entries = [cell["configurations"].get(configuration) for cell in cells]
        column = lambda fn: [None if e is None else fn(e) for e in entries]
        g = lambda e: e["record"]["params"]["g"]
        per_configuration.append({
            "bin_size": configuration[0],
            "actv_bin_size": configuration[1],
            "val_evr": column(lambda e: _rounded(e["record"]["val_evr"])),
            "test_evr": column(lambda e: _rounded(e["record"]["test_evr"])),
            "passes": column(lambda e: int(e["passes"])),
            "in_dataset": column(lambda e: int(e["in_dataset"])),
            "threshold_pa": column(lambda e: _rounded(g(e)["b"][0], 2)),
            "max_current_pa": column(lambda e: _rounded(g(e)["max_current"][0], 2)),
            "max_rate_hz": column(lambda e: _rounded(1000 * g(e)["max_firing_rate"][0], 2)),
        })
    return {
        "dataset": dataset_name,
        "provenance": provenance,
        "filters": {"min_val_evr": min_val_evr, "max_train_loss": max_train_loss},
        "species_names": species,
        "cre_line_names": cre_lines,
        "cell_id": [cell["cell_id"] for cell in cells],
        "species": [species_code[cell["species"]] for cell in cells],
        "cre_line": [cre_code[cell["cre_line"]] for cell in cells],
        "has_recordings": [int(cell["processed_path"] is not None) for cell in cells],
        "configurations": per_configuration,
    }

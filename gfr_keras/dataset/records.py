"""The GFR parameter dataset file (spec section 4): JSON records, validated on read and write.

Its provenance (where the cells came from, how they were fitted) is a sidecar beside it,
`<name>.provenance.json` (gfr_keras.dataset.provenance, docs/dataset_format.md), so the
file stays the published list of records.

The file is a JSON list of records::

    {"cell_id": 566517779, "cre-line": "Sst-IRES-Cre", "bin_size": 10,
     "actv_bin_size": 20, "val_evr": 0.71, "test_evr": 0.66, "train_loss": 0.21,
     "test_loss": 0.30, "params": {...one neuron...}}
"""

import math
import numbers
import os
from importlib import resources

from gfr_keras.dataset.provenance import remove_provenance, write_provenance
from gfr_keras.io_utils import read_json, write_json_atomic
from gfr_keras.neurons.params import ParameterError, validate_params
from gfr_keras.neurons.timescales import CONFIGURATIONS

#: Six reference neurons shipped with the package, one per configuration
#: (see gfr_keras/resources/README.md): the offline default dataset.
REFERENCE_DATASET_PATH = resources.files("gfr_keras") / "resources" / "reference_neurons.json"

#: The dataset shipped with the package: the full default fit config, all six
#: configurations, fitted to a 200-cell synthetic bank calibrated to the Allen
#: metadata, not to recordings (`make shipped-dataset`; its provenance sidecar
#: `gfr_dataset.provenance.json`; see gfr_keras/resources/README.md).
SHIPPED_DATASET_PATH = resources.files("gfr_keras") / "resources" / "gfr_dataset.json"

#: Columns of each configuration's DataFrame, in order.
COLUMNS = [
    "cell_id",
    "cre-line",
    "bin_size",
    "actv_bin_size",
    "val_evr",
    "test_evr",
    "train_loss",
    "test_loss",
    "params",
]
#: The metric fields of a record (a number, or null where the fit produced none).
METRICS = ("val_evr", "test_evr", "train_loss", "test_loss")


class DatasetError(ParameterError):
    """A dataset file or record is malformed; the message names the file, record and field."""


def validate_record(record, context="record"):
    """Check one dataset record (keys, types, and its `params` against spec section 4).

    Metrics may be `null`/NaN (a fit that produced none) but not strings or infinity.
    """
    if not isinstance(record, dict):
        raise DatasetError(f"{context}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in COLUMNS if key not in record]
    if missing:
        if "cell_id" in record:
            context = f"{context} (cell_id {record['cell_id']!r})"
        raise DatasetError(f"{context}: missing field(s) {missing}")
    cell_id = record["cell_id"]
    # int64: the DataFrames, HDF5 files and SavedModels hold cell ids as int64.
    if isinstance(cell_id, bool) or not isinstance(cell_id, int) or not 0 <= cell_id < 2**63:
        shown = repr(cell_id) if len(repr(cell_id)) < 40 else repr(cell_id)[:20] + "..."
        raise DatasetError(
            f"{context}: field 'cell_id': expected a non-negative integer below 2**63, got {shown}", field="cell_id"
        )
    context = f"{context} (cell_id {cell_id})"
    cre_line = record["cre-line"]
    # The published writer leaves human cells' empty line_name as NaN (JSON token NaN).
    if not (cre_line is None or isinstance(cre_line, str) or (isinstance(cre_line, float) and math.isnan(cre_line))):
        raise DatasetError(f"{context}: field 'cre-line': expected a string or null, got {cre_line!r}")
    configuration = (record["bin_size"], record["actv_bin_size"])
    if configuration not in CONFIGURATIONS:
        raise DatasetError(
            f"{context}: fields 'bin_size'/'actv_bin_size': expected one of the configurations "
            f"{[list(c) for c in CONFIGURATIONS]}, got {list(configuration)}"
        )
    for key in METRICS:
        value = record[key]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isinf(value):
            raise DatasetError(f"{context}: field '{key}': expected a finite number or null, got {value!r}")
    try:
        validate_params(record["params"], context)
    except ParameterError as error:
        raise DatasetError(str(error)) from None
    params = record["params"]
    if params["bin_size"] != record["bin_size"]:
        raise DatasetError(
            f"{context}: field 'params.bin_size': expected {record['bin_size']} (the record's "
            f"bin_size), got {params['bin_size']}"
        )
    if params["g"]["bin_size"] != record["actv_bin_size"]:
        raise DatasetError(
            f"{context}: field 'params.g.bin_size': expected {record['actv_bin_size']} (the "
            f"record's actv_bin_size), got {params['g']['bin_size']}"
        )


def validate_records(records, source):
    """Check a list of records: each with `validate_record`, and no two for one cell and configuration.

    `source` (a path, or a word such as "records") starts every message.
    """
    if not isinstance(records, list):
        raise DatasetError(f"{source}: expected a JSON list of records, got {type(records).__name__}")
    seen = {}
    for index, record in enumerate(records):
        validate_record(record, f"{source}: record {index}")
        key = (record["cell_id"], record["bin_size"], record["actv_bin_size"])
        if key in seen:
            raise DatasetError(
                f"{source}: record {index} (cell_id {key[0]}): duplicates record {seen[key]} "
                f"for configuration ({key[1]}, {key[2]})"
            )
        seen[key] = index


def records_from_frames(frames):
    """The records of a `load_dataset` dict (DataFrames with columns `COLUMNS`), as plain JSON-ready dicts."""
    records = []
    for frame in frames.values():
        for row in frame[COLUMNS].to_dict(orient="records"):
            row["cell_id"] = int(row["cell_id"])
            row["bin_size"] = int(row["bin_size"])
            row["actv_bin_size"] = int(row["actv_bin_size"])
            for key in METRICS:
                value = row[key]
                row[key] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            records.append(row)
    return records


def read_dataset(path):
    """Read and validate a dataset JSON file.

    Returns:
        list of record dicts, as in the file.

    Raises:
        DatasetError (a ValueError) naming the file, the record index, the cell id
        and the field of the first malformed record.
    """
    path = os.fspath(path)
    records = read_json(path, DatasetError)
    validate_records(records, path)
    return records


def write_dataset(records, path, provenance=None):
    """Validate `records` and write them as a dataset JSON file, atomically, with its provenance.

    Args:
        records: list of record dicts, or a `load_dataset` dict of DataFrames.
        path: destination; an existing file is replaced only once the new one is
            completely written.
        provenance: where the records came from (`gfr_keras.dataset.provenance`),
            written beside the file as `<name>.provenance.json`; default: the
            DataFrames' `attrs["provenance"]` when `records` is a `load_dataset`
            dict. Without one, a sidecar left at `path` by an earlier file is
            removed (it would describe other records).
    """
    if isinstance(records, dict):
        if provenance is None:
            provenance = next((frame.attrs.get("provenance") for frame in records.values()), None)
        records = records_from_frames(records)
    records = [dict(record) for record in records]
    validate_records(records, os.fspath(path))
    write_json_atomic(records, path)
    if provenance is None or provenance.get("matches_file") is False:
        remove_provenance(path)
    else:
        write_provenance(provenance, path, records)

"""The GFR parameter dataset file (spec section 4): JSON records, validated on read and write.

The file is a JSON list of records::

    {"cell_id": 566517779, "cre-line": "Sst-IRES-Cre", "bin_size": 10,
     "actv_bin_size": 20, "val_evr": 0.71, "test_evr": 0.66, "train_loss": 0.21,
     "test_loss": 0.30, "params": {...one neuron...}}
"""

import math
import numbers
import os
from importlib import resources

from gfr_keras.io_utils import read_json, write_json_atomic
from gfr_keras.neurons.params import ParameterError, validate_params
from gfr_keras.neurons.timescales import CONFIGURATIONS

#: Six reference neurons shipped with the package, one per configuration
#: (see gfr_keras/resources/README.md): the offline default dataset.
REFERENCE_DATASET_PATH = resources.files("gfr_keras") / "resources" / "reference_neurons.json"

#: The dataset shipped with the package: the full default protocol, all six
#: configurations, on a 50-cell synthetic bank (`make shipped-dataset`; see
#: gfr_keras/resources/README.md).
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
_METRICS = ("val_evr", "test_evr", "train_loss", "test_loss")


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
    for key in _METRICS:
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


def _validate_records(records, source):
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
    _validate_records(records, path)
    return records


def write_dataset(records, path):
    """Validate `records` and write them as a dataset JSON file, atomically.

    Args:
        records: list of record dicts, or a `load_dataset` dict of DataFrames.
        path: destination; an existing file is replaced only once the new one is
            completely written.
    """
    if isinstance(records, dict):
        from gfr_keras.dataset.frames import records_from_frames

        records = records_from_frames(records)
    records = [dict(record) for record in records]
    _validate_records(records, os.fspath(path))
    write_json_atomic(records, path)

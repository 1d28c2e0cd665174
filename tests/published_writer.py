"""Write a dataset file the way the published code writes `model/gfr_dataset.json`.

A test helper, written from reading AllenInstitute/GRNN (not copied):

* `utils.get_df` builds one DataFrame per configuration; its `cre-line` column is
  `line_name` looked up in `data/metadata.csv`, where human cells have an empty
  string that `pandas.read_csv` reads as NaN.
* `utils.to_json` turns each row into a dict, casting `cell_id`, `bin_size`,
  `actv_bin_size` with `int()` and the metrics with `float()`, copying `cre-line`
  and the parameters as they are (`GFR.get_params`: `tolist()` of float32
  tensors, `bin_size` as the training script received it).
* `json.dump(records, f)` with Python's defaults (`allow_nan=True`), so NaN is
  written as the bare token `NaN`.

Imported by tests as `from published_writer import ...`.
"""

import copy
import io
import json

import numpy as np
import pandas as pd

#: Columns of `utils.get_df`'s DataFrames, in order.
_COLUMNS = ["cell_id", "cre-line", "bin_size", "actv_bin_size", "val_evr", "test_evr", "train_loss", "test_loss", "params"]


def metadata_frame(cre_lines):
    """`data/metadata.csv` as the published code reads it: `{cell_id: line_name}`, "" for human cells."""
    text = "line_name,specimen__id,donor__species\n" + "".join(
        f'"{line}",{cell_id},{"Homo Sapiens" if line == "" else "Mus musculus"}\n'
        for cell_id, line in cre_lines.items()
    )
    return pd.read_csv(io.StringIO(text))


def published_frames(records, cre_lines):
    """`utils.get_df` for each configuration: cre-line from the metadata (NaN for "")."""
    metadata = metadata_frame(cre_lines)
    frames = {}
    for record in records:
        key = (record["bin_size"], record["actv_bin_size"])
        row = {column: record[column] for column in _COLUMNS}
        row["cre-line"] = metadata[metadata["specimen__id"] == record["cell_id"]]["line_name"].to_numpy()[0]
        frames.setdefault(key, []).append(row)
    return {key: pd.DataFrame(rows, columns=_COLUMNS) for key, rows in frames.items()}


def published_to_json(frames):
    """What `utils.to_json` returns: a list of plain dicts (parameters untouched)."""
    out = []
    for frame in frames.values():
        for i in range(len(frame)):
            row = frame.iloc[i]
            params, g = row["params"], row["params"]["g"]
            out.append({
                "cell_id": int(row["cell_id"]),
                "cre-line": row["cre-line"],
                "bin_size": int(row["bin_size"]),
                "actv_bin_size": int(row["actv_bin_size"]),
                "val_evr": float(row["val_evr"]),
                "test_evr": float(row["test_evr"]),
                "train_loss": float(row["train_loss"]),
                "test_loss": float(row["test_loss"]),
                "params": {
                    "a": params["a"], "b": params["b"], "ds": params["ds"], "bin_size": params["bin_size"],
                    "g": {key: g[key] for key in ("max_current", "max_firing_rate", "poly_coeff", "b", "bin_size")},
                },
            })
    return out


def as_float32_lists(params, float_bin_sizes=False):
    """Parameters as `GFR.get_params` returns them: float32 values via `tolist()`.

    With `float_bin_sizes`, `bin_size` is a float (`20.0`), as a float in a
    training config would make it.
    """
    params = copy.deepcopy(params)
    for key in ("a", "b", "ds"):
        params[key] = np.asarray(params[key], dtype=np.float32).tolist()
    g = params["g"]
    for key in ("max_current", "max_firing_rate", "poly_coeff", "b"):
        g[key] = np.asarray(g[key], dtype=np.float32).tolist()
    if float_bin_sizes:
        params["bin_size"] = float(params["bin_size"])
        g["bin_size"] = float(g["bin_size"])
    return params


def write_published_dataset(records, cre_lines, path, float_bin_sizes=False):
    """Write `records` as `json.dump(utils.to_json(dataset), f)` would.

    Args:
        records: dataset records (their `cre-line` is replaced by `cre_lines`).
        cre_lines: `{cell_id: line_name}`; "" for a human cell (written as NaN).
        path: destination file.
        float_bin_sizes: write the parameters' bin sizes as floats (`20.0`).
    """
    records = [{**r, "params": as_float32_lists(r["params"], float_bin_sizes)} for r in records]
    with open(path, "w") as handle:
        json.dump(published_to_json(published_frames(records, cre_lines)), handle)


#: The keys of a record and of its parameters that the published code reads.
PARAM_KEYS = {"a", "b", "ds", "bin_size", "g"}
G_KEYS = {"max_current", "max_firing_rate", "poly_coeff", "b", "bin_size"}


def read_as_published(path):
    """Read a dataset file as the published code reads `gfr_dataset.json`: `json.load` of a list of
    records, one DataFrame of `_COLUMNS` per configuration, parameters used as stored.

    Raises AssertionError where the published code would fail: a file that is not a list of
    records, a record without one of the columns, parameters without the keys it reads.
    """
    with open(path) as handle:
        data = json.load(handle)
    assert isinstance(data, list), f"{path}: the published code expects a JSON list of records"
    rows = {}
    for record in data:
        assert set(_COLUMNS) <= set(record), f"{path}: record without {set(_COLUMNS) - set(record)}"
        assert PARAM_KEYS <= set(record["params"]) and G_KEYS <= set(record["params"]["g"])
        rows.setdefault((int(record["bin_size"]), int(record["actv_bin_size"])), []).append(record)
    return {key: pd.DataFrame(records, columns=_COLUMNS) for key, records in rows.items()}

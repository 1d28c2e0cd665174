"""The whole dataset as one tidy table: one row per record, every parameter a named column."""

import numpy as np
import pandas as pd

from gfr_keras.allen_metadata import species_by_cell
from gfr_keras.dataset.frames import as_frames
from gfr_keras.dataset.records import METRICS

_CONFIG_COLUMNS = ["bin_size_ms", "activation_bin_size_ms", "cell_id", "cre_line", "species"]
_ACTIVATION_COLUMNS = ["threshold_pa", "sigma_pa", "gamma_per_ms"]


def _missing(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


def _row(record, species):
    params, g = record["params"], record["params"]["g"]
    row = {
        "bin_size_ms": int(record["bin_size"]),
        "activation_bin_size_ms": int(record["actv_bin_size"]),
        "cell_id": int(record["cell_id"]),
        "cre_line": None if _missing(record["cre-line"]) else record["cre-line"],
        "species": species.get(int(record["cell_id"])),
    }
    row.update({key: record[key] for key in METRICS})
    for prefix, values in (("alpha", params["a"][0]), ("beta", params["b"][0]), ("decay_rate", params["ds"])):
        row.update({f"{prefix}_{i}": float(v) for i, v in enumerate(values)})
    row["threshold_pa"] = float(g["b"][0])
    row["sigma_pa"] = float(g["max_current"][0])
    row["gamma_per_ms"] = float(g["max_firing_rate"][0])
    row.update({f"poly_coeff_{k}": float(c) for k, c in enumerate(g["poly_coeff"][0])})
    return row


def parameter_table(dataset, species=True):
    """The dataset as one DataFrame, one row per record, parameters flattened.

    Columns, in order:

    * configuration and cell: `bin_size_ms`, `activation_bin_size_ms`, `cell_id`,
      `cre_line` (None for cells without one, e.g. human cells), `species`
      (from the shipped Allen metadata by specimen id; None for cells it does not
      list, or for every cell with `species=False`);
    * metrics: `val_evr`, `test_evr`, `train_loss`, `test_loss`;
    * trace parameters: `alpha_0..alpha_{n-1}` (pA of trace per pA of the
      bin's mean current, dimensionless), `beta_0..` (pA per Hz of the previous
      rate: the model adds `1000 * beta * f` with `f` in 1/ms),
      `decay_rate_0..` (lam, per bin), with `n` the most traces of any record
      (9 at 10 ms); NaN where a record's configuration has fewer traces;
    * activation: `threshold_pa` (g.b), `sigma_pa` (g.max_current),
      `gamma_per_ms` (g.max_firing_rate), `poly_coeff_0..poly_coeff_d` (the raw
      coefficients, squared by the model), NaN beyond a record's degree.

    Args:
        dataset: a `load_dataset` dict, a path to a dataset file, or a list of records.
        species: look species up in the shipped Allen metadata.

    Returns:
        pandas DataFrame, rows in configuration order then file order;
        `attrs["provenance"]` as `load_dataset` gives it (None when not recorded).
    """
    frames = as_frames(dataset)
    lookup = species_by_cell() if species else {}
    rows = [_row(record, lookup) for frame in frames.values() for record in frame.to_dict(orient="records")]
    n_traces = max((sum(k.startswith("decay_rate_") for k in row) for row in rows), default=0)
    n_coeff = max((sum(k.startswith("poly_coeff_") for k in row) for row in rows), default=0)
    columns = (
        _CONFIG_COLUMNS
        + list(METRICS)
        + [f"{prefix}_{i}" for prefix in ("alpha", "beta", "decay_rate") for i in range(n_traces)]
        + _ACTIVATION_COLUMNS
        + [f"poly_coeff_{k}" for k in range(n_coeff)]
    )
    table = pd.DataFrame(rows, columns=columns)
    table = table.astype({"bin_size_ms": "int64", "activation_bin_size_ms": "int64", "cell_id": "int64"})
    table.attrs["provenance"] = next((frame.attrs.get("provenance") for frame in frames.values()), None)
    return table

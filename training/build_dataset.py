"""`gfr build-dataset`: merge per-cell fits into the JSON parameter dataset (spec section 4)."""

import json
import os

import numpy as np

MIN_VAL_EVR = 0.5
MAX_TRAIN_LOSS = 0.45


def add_arguments(parser):
    parser.add_argument("--fits", nargs="+", required=True, help="FITS_DIR folders of `gfr fit` (any configurations, any shards)")
    parser.add_argument("--out", required=True, help="the dataset JSON to write")


def read_fits(folders):
    fits = []
    for folder in folders:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"--fits: {folder} is not a folder")
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") and name[:-5].isdigit():
                path = os.path.join(folder, name)
                with open(path) as handle:
                    try:
                        fit = json.load(handle)
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{path}: not valid JSON ({error})") from None
                fit["_path"] = path
                fits.append(fit)
    return fits


def passes_filters(fit):
    """The published dataset's filters: fitted, val_evr > 0.5 and train_loss < 0.45."""
    return (
        fit.get("status") == "ok"
        and fit.get("val_evr") is not None
        and fit["val_evr"] > MIN_VAL_EVR
        and fit.get("train_loss") is not None
        and fit["train_loss"] < MAX_TRAIN_LOSS
    )


def build_records(fits):
    """Dataset records from fits that pass the filters; the table of counts per configuration."""
    from gfr_keras.timescales import CONFIGURATIONS

    records, table = [], {c: {"fitted": 0, "ok": 0, "kept": 0, "test_evr": [], "all_test_evr": []} for c in CONFIGURATIONS}
    seen = {}
    for fit in fits:
        key = (fit["bin_size"], fit["actv_bin_size"])
        if key not in table:
            raise ValueError(f"{fit['_path']}: configuration {list(key)} is not one of {[list(c) for c in CONFIGURATIONS]}")
        ident = (fit["cell_id"], *key)
        if ident in seen:
            raise ValueError(f"{fit['_path']}: cell {fit['cell_id']} at {list(key)} is also in {seen[ident]}")
        seen[ident] = fit["_path"]
        row = table[key]
        row["fitted"] += 1
        row["ok"] += fit.get("status") == "ok"
        if fit.get("status") == "ok" and fit.get("test_evr") is not None:
            row["all_test_evr"].append(fit["test_evr"])
        if not passes_filters(fit):
            continue
        row["kept"] += 1
        row["test_evr"].append(fit["test_evr"])
        records.append(
            {
                "cell_id": int(fit["cell_id"]),
                "cre-line": fit.get("cre_line") or "",
                "bin_size": key[0],
                "actv_bin_size": key[1],
                "val_evr": fit["val_evr"],
                "test_evr": fit["test_evr"],
                "train_loss": fit["train_loss"],
                "test_loss": fit["test_loss"],
                "params": fit["params"],
            }
        )
    records.sort(key=lambda r: (r["bin_size"], r["actv_bin_size"], r["cell_id"]))
    return records, table


def format_table(table):
    lines = [
        "bin size | activation bin size | cells fitted | fit ok | in dataset | median test EVR, all fitted | median test EVR, in dataset",
        "---:|---:|---:|---:|---:|---:|---:",
    ]
    median = lambda values: f"{np.median(values):.3f}" if values else "-"
    for (bin_size, actv), row in table.items():
        lines.append(
            f"{bin_size} | {actv} | {row['fitted']} | {row['ok']} | {row['kept']} | "
            f"{median(row['all_test_evr'])} | {median(row['test_evr'])}"
        )
    return "\n".join(lines)


def run(args):
    from gfr_keras.dataset import write_dataset

    records, table = build_records(read_fits(args.fits))
    write_dataset(records, args.out)
    print(format_table(table))
    print(f"{len(records)} records written to {args.out} (filters: val_evr > {MIN_VAL_EVR}, train_loss < {MAX_TRAIN_LOSS})")
    return 0

"""How real are the synthetic cells? allensdk's own feature extractor on every cell of a bank.

Builds (or reuses) a bank with `gfr synth-cells`, times the simulation, runs
`allensdk.ephys.extract_cell_features.extract_cell_features` on every cell and
compares each feature with the source cell's value in the shipped metadata
table: median relative error (absolute error in mV for voltages, absolute for
the adaptation index) and a synthetic-vs-real scatter per feature.

    uv run python benchmarks/bank_realism.py                        # 50 cells, seed 2026 (docs/benchmarks.md)
    uv run python benchmarks/bank_realism.py --n 12 --seed 0 --bank demo_output/cell_bank
    uv run python benchmarks/bank_realism.py --n 200 --per-line 4 --bank build/shipped/cell_bank --subset 50

Prints a Markdown table; writes `<bank>/bank_realism.csv` (every cell's values)
and the figure (`--figure`, default docs/figures/bank_realism.png).
"""

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import pandas as pd

from gfr_keras.ephys.allen_features import COMPARED, extract_allen_features, feature_errors

#: metadata column -> (target, unit of the error) from issue #14
TARGETS = {
    "ef__threshold_i_long_square": "≤ 15 %",
    "ef__f_i_curve_slope": "≤ 15 %",
    "ef__tau": "≤ 15 %",
    "ef__ri": "≤ 15 %",
    "ef__avg_firing_rate": "≤ 15 %",
    "ef__vrest": "≤ 3 mV",
    "ef__fast_trough_v_long_square": "≤ 3 mV",
}
_LOG_AXES = {"ef__threshold_i_long_square", "ef__f_i_curve_slope", "ef__tau", "ef__ri", "ef__avg_firing_rate"}


def _extract(path):
    warnings.filterwarnings("ignore")
    try:
        return extract_allen_features(path), ""
    except Exception as error:  # the extractor raises FeatureError and others
        return {}, f"{type(error).__name__}: {error}"


def build_bank(bank, n, seed, workers, per_line=1):
    """Run `gfr synth-cells` (cells already there are kept); seconds spent simulating."""
    from training.cli import main

    started = time.perf_counter()
    command = ["synth-cells", "--n", str(n), "--seed", str(seed), "--per-line", str(per_line), "--out", bank, "--workers", str(workers)]
    assert main(command) == 0
    return time.perf_counter() - started


def measure(bank, workers, subset=None):
    """One row per cell (`subset`: that many, evenly spread over the bank's list): source
    (`real_<col>`) and synthetic (`syn_<col>`) values, errors, failures."""
    rows = json.load(open(os.path.join(bank, "cells.json")))
    if subset and subset < len(rows):
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, subset).round().astype(int)]
    paths = [os.path.join(bank, f"specimen_{int(r['specimen__id'])}", "ephys.nwb") for r in rows]
    import multiprocessing

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_extract, paths))
    table = []
    for row, (features, failure) in zip(rows, results):
        record = {"cell_id": int(row["specimen__id"]), "species": row["donor__species"], "line": row["line_name"], "failure": failure}
        errors = feature_errors(features, row) if features else {}
        for column, (name, _) in COMPARED.items():
            record[f"real_{column}"] = np.nan if row.get(column) is None else float(row[column])
            record[f"syn_{column}"] = features.get(name, np.nan)
            record[f"err_{column}"] = errors.get(column, np.nan)
        table.append(record)
    return pd.DataFrame(table)


def markdown(table):
    lines = [
        "| feature (metadata column) | cells | median error | 90th percentile | target |",
        "|---|---:|---:|---:|---|",
    ]
    for column, (name, kind) in COMPARED.items():
        errors = table[f"err_{column}"].dropna()
        unit = {"relative": "%", "mv": " mV", "absolute": ""}[kind]
        scale = 100.0 if kind == "relative" else 1.0
        median, p90 = (f"{scale * errors.quantile(q):.{1 if kind != 'absolute' else 3}f}{unit}" for q in (0.5, 0.9))
        lines.append(f"| {name} (`{column}`) | {len(errors)} | {median} | {p90} | {TARGETS.get(column, '-')} |")
    return "\n".join(lines)


def figure(table, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from gfr_keras.io_utils import save_figure_atomic

    fig, axes = plt.subplots(2, 5, figsize=(18, 7.5))
    for ax, (column, (name, _)) in zip(axes.flat, COMPARED.items()):
        real, syn = table[f"real_{column}"], table[f"syn_{column}"]
        ok = np.isfinite(real) & np.isfinite(syn)
        if column in _LOG_AXES:
            ok &= (real > 0) & (syn > 0)
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        human = (table["species"] == "Homo Sapiens") & ok
        ax.scatter(real[ok & ~human], syn[ok & ~human], s=14, label="mouse")
        ax.scatter(real[human], syn[human], s=14, marker="s", label="human")
        low, high = min(real[ok].min(), syn[ok].min()), max(real[ok].max(), syn[ok].max())
        ax.plot([low, high], [low, high], "k--", lw=0.8)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("real (Allen database)")
        ax.set_ylabel("synthetic (allensdk extractor)")
    axes.flat[0].legend()
    fig.suptitle(f"{len(table)} synthetic cells vs the real cells they are built from")
    fig.tight_layout()
    save_figure_atomic(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", default="demo_output/bank_realism", help="bank folder (made if missing)")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--per-line", type=int, default=1, help="as gfr synth-cells --per-line (the same cells as the bank's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--subset", type=int, help="measure only this many cells, evenly spread over the bank")
    parser.add_argument("--figure", default="docs/figures/bank_realism.png")
    args = parser.parse_args()
    already = sum(os.path.exists(os.path.join(args.bank, d, "ephys.nwb")) for d in os.listdir(args.bank)) if os.path.isdir(args.bank) else 0
    seconds = build_bank(args.bank, args.n, args.seed, args.workers, args.per_line)
    if already < args.n:
        print(f"simulated {args.n - already} cells in {seconds:.0f} s ({seconds / (args.n - already):.1f} s per cell, {args.workers} workers)")
    started = time.perf_counter()
    table = measure(args.bank, args.workers, args.subset)
    print(f"extractor on {len(table)} cells in {time.perf_counter() - started:.0f} s; failures: {int((table['failure'] != '').sum())}")
    for _, row in table[table["failure"] != ""].iterrows():
        print(f"  {row['cell_id']}: {row['failure']}")
    table.to_csv(os.path.join(args.bank, "bank_realism.csv"), index=False)
    figure(table, args.figure)
    print(markdown(table))


if __name__ == "__main__":
    main()

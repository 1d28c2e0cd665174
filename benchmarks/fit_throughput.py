"""Fitting throughput: cell-epochs per second of `gfr_keras.fitting.fit_neurons`, beside the published loop in the same run.

One epoch is the published protocol's: one Adam step on each training batch
(Long Square 15 x 50, Ramp 3 x 400, Noise 1 3 x 1100 steps at 20 ms bins) and a
Noise 2 (3 x 1100) test-loss evaluation, for every unit of the population at
once. The published code fits one cell at a time; its per-cell loop is timed
by a command you give (`--published-command`), run as a subprocess between
this script's own repeats, so both see the same machine load. The command is
not part of this project: it runs the published code from its own environment
and must print `<seconds> s per epoch` (seconds per epoch for one cell; the
last such figure it prints is taken). Without it the script reports this
project's figures only and no ratio: no constant stands in for the published
timing.

The cells are benchmark cells (gfr_keras.fitting.benchmark_cells): GFR neurons with random
thresholds and weights driven by the published stimulus shapes, their rates
turned into Poisson spike counts, so N processed cells take seconds instead of
N GLIF simulations. Each repeat fits the population afresh for `--epochs`
epochs and keeps the median wall time of the epochs after the first (which
traces and compiles), as `fit_neurons` records it; a row is the median over
`--repeats` repeats (range in brackets), and the ratio is published median ÷
project median, per cell-epoch. A population of N units here is N cells with
one learning rate: the same arrays as N/3 cells x 3 learning rates (7,000 units
~ the 2,333 cells x 3 of the database).

    uv run python benchmarks/fit_throughput.py --units 1 100 1000 --repeats 3 \\
        --published-command 'cd "$REFDIR" && "$REFPY" /abs/path/published_fit_epoch.py'
    KERAS_BACKEND=jax uv run python benchmarks/fit_throughput.py --units 1 100 1000 --published-command '...'
    uv run python benchmarks/fit_throughput.py --units 1 100 --epochs 6      # this project only, no ratio
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from gfr_keras.comparison import median_range
from gfr_keras.fitting.benchmark_cells import benchmark_cells

BIN_MS = 20
#: What the published timing command prints: seconds per epoch for one cell.
PUBLISHED_FIGURE = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*s per epoch")


def epoch_seconds(cells, activations, epochs, jit_compile=None):
    """Median wall time (s) of epochs 2..`epochs` of one `fit_neurons` run on the whole population."""
    from gfr_keras.fitting.trainer import fit_neurons_with_history

    config = {"hparams": [{"lr": 1e-3, "epochs": epochs}], "early_stop_repeats": 10**9}
    results, history = fit_neurons_with_history(cells, activations, BIN_MS, config=config, jit_compile=jit_compile)
    if not all(r["epochs"] == epochs for r in results):
        raise RuntimeError(f"a benchmark cell stopped early: {[r.get('failure_reason') for r in results[:3]]}")
    return float(np.median(history["epoch_seconds"][1:]))


def published_seconds(command, timeout_s=1800):
    """Seconds per epoch for one cell, from the output of the published timing `command` (a shell line)."""
    completed = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout_s)
    output = completed.stdout + completed.stderr
    figures = PUBLISHED_FIGURE.findall(completed.stdout) or PUBLISHED_FIGURE.findall(output)
    if completed.returncode != 0 or not figures:
        tail = "\n".join(output.strip().splitlines()[-5:])
        missing = "" if figures else " without printing '<seconds> s per epoch'"
        raise RuntimeError(f"--published-command exited {completed.returncode}{missing}; its last lines:\n{tail}")
    return float(figures[-1])


def measure(n_units, epochs, repeats, jit_settings, command):
    """One population size: `repeats` rounds of (every XLA setting, then the published command), interleaved."""
    started = time.perf_counter()
    cells, activations = benchmark_cells(n_units)
    made_s = time.perf_counter() - started
    project = {jit: [] for jit in jit_settings}
    published, loads = [], [os.getloadavg()[0]]
    for _ in range(repeats):
        for jit in jit_settings:
            project[jit].append(epoch_seconds(cells, activations, epochs, jit_compile=jit))
            loads.append(os.getloadavg()[0])
        if command:
            published.append(published_seconds(command))
            loads.append(os.getloadavg()[0])
    return {"units": n_units, "make_cells_s": made_s, "project_epoch_s": project, "published_cell_epoch_s": published,
            "load_average_1min": loads}


def rows(measured, backend):
    """Markdown rows of one population size, one per XLA setting."""
    n = measured["units"]
    published = measured["published_cell_epoch_s"]
    loads = measured["load_average_1min"]
    lines = []
    for jit, seconds in measured["project_epoch_s"].items():
        per_cell_epoch = statistics.median(seconds) / n
        if published:
            published_cell = median_range(published)
            ratio = f"**{statistics.median(published) / per_cell_epoch:,.0f}**"
        else:
            published_cell, ratio = "not measured", "no ratio"
        xla = "on" if jit else "off"
        lines.append(
            f"| {backend} | {n} | {xla} | {measured['make_cells_s']:.1f} | {median_range(seconds)} | {per_cell_epoch:.2e} | "
            f"{n / statistics.median(seconds):,.1f} | {published_cell} | {ratio} | {min(loads):.1f}–{max(loads):.1f} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1, 100, 1000, 7000])
    parser.add_argument("--epochs", type=int, default=6, help="epochs per repeat; epochs 2.. are timed (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per row, medians reported (default: %(default)s)")
    parser.add_argument("--published-command", help="shell line printing the published loop's '<seconds> s per epoch' for one cell")
    parser.add_argument("--json", help="also write every repeat's numbers to this JSON file")
    args = parser.parse_args()
    if args.epochs < 2 or args.repeats < 1:
        parser.error("--epochs: at least 2 (the first compiles); --repeats: at least 1")
    import keras

    backend = keras.backend.backend()
    version = __import__("tensorflow" if backend == "tensorflow" else backend).__version__
    devices = [str(d) for d in __import__("jax").devices()] if backend == "jax" else []
    published = "published per-cell loop timed between repeats" if args.published_command else (
        "no --published-command: this project's figures only, no ratio")
    print(f"Keras {keras.__version__}, {backend} {version} {devices}, {platform.machine()}, {os.cpu_count()} CPUs; "
          f"median of epochs 2-{args.epochs} per repeat, median [range] over {args.repeats} repeats; {published}\n")
    print("| backend | units | XLA | make cells (s) | s per epoch, all units | s per cell-epoch | cell-epochs/s "
          "| published s per cell-epoch | published ÷ this (ratio of medians) | load average (1 min) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    jit_settings = (True, False) if backend == "tensorflow" else (True,)
    measured = []
    for n in args.units:
        measured.append(measure(n, args.epochs, args.repeats, jit_settings, args.published_command))
        print("\n".join(rows(measured[-1], backend)), flush=True)
    if args.json:
        from gfr_keras.io_utils import write_json_atomic

        record = {"command": " ".join(sys.argv), "published_command": args.published_command, "backend": backend,
                  "epochs": args.epochs, "repeats": args.repeats,
                  "measured": [{**m, "project_epoch_s": {("on" if k else "off"): v for k, v in m["project_epoch_s"].items()}}
                               for m in measured]}
        write_json_atomic(record, args.json, indent=1)


if __name__ == "__main__":
    main()

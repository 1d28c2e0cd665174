"""Masked or published padding in the fitting loss (docs/fidelity.md F3): which gives the better test EVR?

The published `train.train_model` pads a cell's sweeps of one stimulus to the
longest (`pad_sequence`) and sums the loss over every bin, so the zeros after
a shorter sweep count as "no current, no spikes". The project used to mask
them (now the switch `FitConfig.loss_on_padding = False`; this measurement is
why the published loss became the default). The difference only exists when a
stimulus' sweeps have different lengths: in Allen recordings that is the Ramp,
whose repeats stop at different times. The synthetic bank has one Ramp per
cell, so each cell here gets two more Ramp sweeps: copies of its Ramp cut
at 50 % and 75 % of its length (real data, uneven lengths). Both fits see
exactly the same cells; only the loss differs. Test EVR is on Noise 2, which
neither loss changes (its sweeps have equal lengths).

    uv run gfr synth-cells --n 50 --seed 2026 --out demo_output/bank50
    uv run gfr preprocess --manifest demo_output/bank50/manifest.json --out demo_output/processed50
    uv run python benchmarks/padding_loss.py --processed demo_output/processed50 [--config default]
"""

import argparse
import copy
import glob
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

BIN_MS = 20


def with_short_ramps(cell, fractions=(0.5, 0.75)):
    """`cell` plus copies of its first Ramp sweep cut to `fractions` of its length (every bin size)."""
    cell = copy.deepcopy(cell)
    ramps = [s for _, s in sorted(cell["sweeps"].items()) if s["stimulus_name"] == "Ramp"]
    for fraction in fractions if ramps else ():
        short = copy.deepcopy(ramps[0])
        for b in short["rate_per_ms"]:
            n = int(len(short["rate_per_ms"][b]) * fraction)
            short["rate_per_ms"][b], short["current_pa"][b] = short["rate_per_ms"][b][:n], short["current_pa"][b][:n]
        cell["sweeps"][max(cell["sweeps"]) + 1] = short
    return cell


def summary(results):
    """Median / mean test EVR over the cells whose fit is not flat (EVR exactly 0: activation never moved)."""
    test = np.array([r["test_evr"] if r["status"] == "ok" else np.nan for r in results], float)
    moving = np.isfinite(test) & (test != 0)
    return {"cells": len(results), "fitted": int(np.isfinite(test).sum()), "not_flat": int(moving.sum()),
            "median_test_evr": float(np.median(test[moving])), "mean_test_evr": float(np.mean(test[moving])), "test": test}


def main():
    from gfr_keras.ephys.processed import read_processed_cell
    from gfr_keras.fitting.config import load_fit_config
    from gfr_keras.fitting.trainer import fit_cells

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processed", required=True)
    parser.add_argument("--config", default="default")
    args = parser.parse_args()
    cells = [with_short_ramps(read_processed_cell(p)) for p in sorted(glob.glob(os.path.join(args.processed, "*.h5")))]
    config = load_fit_config(args.config).to_dict()
    rows = {}
    for name, on in (("masked (loss_on_padding false)", False), ("padding counted (published, the default)", True)):
        rows[name] = summary(fit_cells(cells, BIN_MS, BIN_MS, config={**config, "loss_on_padding": on}))
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[name].items() if k != "test"}, flush=True)
    masked, padded = (rows[k]["test"] for k in rows)
    both = np.isfinite(masked) & np.isfinite(padded) & (masked != 0)
    difference = padded[both] - masked[both]
    print(f"per cell, published minus masked test EVR: median {np.median(difference):+.4f}, "
          f"published better in {(difference > 0).sum()} of {both.sum()} cells, worse in {(difference < 0).sum()}; "
          f"the cells that differ: {np.round(masked[both][difference != 0], 4).tolist()} -> "
          f"{np.round(padded[both][difference != 0], 4).tolist()}")


if __name__ == "__main__":
    main()

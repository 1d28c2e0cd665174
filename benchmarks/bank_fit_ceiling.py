"""How much of the synthetic bank's Noise 2 response a GFR fit explains, against what any predictor could.

For `--n` real cells of the shipped Allen table (spread over cre lines as the
shipped bank's), the script calibrates the spiking bank's model, simulates the
bank's protocol in memory, bins it as `gfr preprocess` does, and fits every cell
at (20,20) with the full default protocol (`fit_activations`, `fit_neurons`). It then simulates
`--extra-repeats` more Noise 2 sweeps of each cell and reports, per variant:

* the fitted test EVR (all cells; and over the cells that pass the published
  filters, i.e. would enter the dataset);
* the noise ceiling: the EVR of the recorded 3 Noise 2 trials against the PSTH of
  the extra repeats (an almost noise-free predictor that knows the exact current);
* within-epoch r: the correlation of the GFR prediction with that PSTH inside
  each of the three 3 s noise epochs (the 20 ms structure), and the ratio of
  their mean rates (the epoch's level);
* the Noise 2 firing rate, and how well the variant's own Long Square sweeps
  (with its intrinsic noise) still match the source cells' f-I slope and
  hero-sweep rate (computed as the calibration computes them).

Variants change the model after calibration (`--set KEY=EXPR`, EXPR a Python
expression of `p`, the cell's parameters, and `np`), or during it too
(`--recalibrate`, so the step features are matched again), or the fit's training
stimuli besides Noise 1 (`--train-stimuli`; the activation is always fitted on the Long Squares). Examples (docs/benchmarks.md, issue 14):

    uv run python benchmarks/bank_fit_ceiling.py --n 50
    uv run python benchmarks/bank_fit_ceiling.py --n 50 --set noise_sd_pa=0
    uv run python benchmarks/bank_fit_ceiling.py --n 50 --set g_ahp_ns=0 --recalibrate
    uv run python benchmarks/bank_fit_ceiling.py --n 50 --train-stimuli      # Noise 1 only
"""

import argparse
import time

import numpy as np

from gfr_keras.dataset.filters import passes_filters
from gfr_keras.dataset.metrics import explained_variance_ratio
from gfr_keras.allen_metadata import load_allen_metadata
from gfr_keras.ephys import cell_calibration, spiking_bank
from gfr_keras.ephys.allen_stimuli import EXPERIMENT_START_S, ONSET_S
from gfr_keras.ephys.spiking_neuron import PARAMETERS
from gfr_keras.ephys.sweeps import process_sweeps
from gfr_keras.fitting.config import load_fit_config
from gfr_keras.fitting.activation import fit_activations
from gfr_keras.fitting.trainer import fit_neurons

BIN_MS = 20
EPOCH_BINS, GAP_BINS = 3000 // BIN_MS, 2000 // BIN_MS  # the noise sweeps' 3 s epochs, 2 s apart


def parse_overrides(texts):
    """`KEY=EXPR` pairs; KEY must be a model parameter."""
    overrides = []
    for text in texts:
        key, sep, expression = text.partition("=")
        if not sep or key not in PARAMETERS:
            raise SystemExit(f"--set {text!r}: expected KEY=EXPR with KEY one of {', '.join(PARAMETERS)}")
        overrides.append((key, compile(expression, f"--set {key}", "eval")))
    return overrides


def apply_overrides(params, overrides):
    params = dict(params)
    for key, code in overrides:
        params[key] = float(eval(code, {"np": np, "p": dict(params)}))  # noqa: S307 (benchmark's own command line)
    return params


def build_models(rows, overrides, recalibrate):
    """`(params, features, calibration)` per cell; with `recalibrate` the overrides apply during calibration."""
    during = (lambda params: apply_overrides(params, overrides)) if recalibrate else None
    models = spiking_bank.build_models(rows, parameter_overrides=during)
    return [(apply_overrides(params, overrides), info["features"], info["calibration"]) for params, info in models]


def simulate_sweeps(models, rate_hz, repeats, seed):
    """The bank's protocol for every cell, simulated at once: per cell, `(sweeps, spike samples)`."""
    bank_models = [(params, {"features": features}) for params, features, _ in models]
    simulated = spiking_bank.simulate_protocol(bank_models, range(len(models)), rate_hz, seed, repeats, return_voltage=False)
    return [(sweeps, spikes) for sweeps, _, spikes in simulated]


def processed_cell(cell_id, sweeps, spikes, rate_hz):
    """The `read_processed_cell` dict `gfr preprocess` would write, binned in memory (`process_sweeps`,
    the experiment window as allensdk gives it for the bank's NWB files)."""
    start = int(EXPERIMENT_START_S * rate_hz)
    recorded = []
    for number, (sweep, samples) in enumerate(zip(sweeps, spikes)):
        end = sweep["experiment_end"]
        response = np.ones(len(sweep["current_pa"]))
        response[end:] = 0.0  # the recording stops at the Ramp's end
        recorded.append({"sweep_number": number, "role": sweep["stimulus_name"], "current_pa": sweep["current_pa"],
                         "sampling_rate_hz": rate_hz, "voltage_mv": response, "spike_times_s": samples[samples < end] / rate_hz,
                         "window": (start, end - 1)})
    cell, _ = process_sweeps(recorded, cell_id, max_rate_sweeps="fitted")
    return cell


def step_feature_errors(models, simulated, rate_hz):
    """Median relative error of the f-I slope and hero-sweep rate measured on each variant's own Long Squares."""
    slope_err, rate_err = [], []
    window_ms = (ONSET_S * 1000.0, ONSET_S * 1000.0 + 1000.0)
    for (_, features, _), (sweeps, spikes) in zip(models, simulated):
        steps = [(s["amplitude_pa"], x) for s, x in zip(sweeps, spikes)
                 if s["stimulus_name"] == "Long Square" and s["amplitude_pa"] >= features["rheobase_pa"] - 20.0]
        slope, hero_hz, _, _ = cell_calibration.spike_train_features(
            [x for _, x in steps], [a for a, _ in steps], features["rheobase_pa"], 1000.0 / rate_hz, window_ms)
        slope_err.append(abs(slope / features["fi_slope_hz_per_pa"] - 1))
        rate_err.append(abs(hero_hz / features["avg_firing_rate_hz"] - 1))
    return np.nanmedian(slope_err), np.nanmedian(rate_err)


def noise2_counts(models, simulated, rate_hz, repeats, seed):
    """Binned Noise 2 rates of `repeats` extra sweeps per cell `[cells][repeats, bins]`, and the binned current."""
    onset = int(round(ONSET_S * rate_hz))
    per_bin = int(BIN_MS * 1e-3 * rate_hz)
    trace_params, currents, rngs = [], [], []
    for cell, ((params, _, _), (sweeps, _)) in enumerate(zip(models, simulated)):
        sweep = next(s for s in sweeps if s["stimulus_name"] == "Noise 2")
        for k in range(repeats):
            trace_params.append(params)
            currents.append(sweep["current_pa"])
            rngs.append(np.random.default_rng([seed + 1, cell, k]))
    _, spikes = spiking_bank.simulate_traces(trace_params, currents, rate_hz, rngs, return_voltage=False)
    out = []
    for cell in range(len(models)):
        current = currents[cell * repeats]
        n_bins = (len(current) - onset) // per_bin
        counts = [np.bincount((s[s >= onset] - onset) // per_bin, minlength=n_bins)[:n_bins] for s in spikes[cell * repeats : (cell + 1) * repeats]]
        binned_current = current[onset : onset + n_bins * per_bin].reshape(n_bins, per_bin).mean(axis=1)
        out.append((np.stack(counts) / BIN_MS, binned_current))
    return out


def gfr_prediction(params, current_pa):
    import gfr_keras as gk

    rates, _ = gk.GFR.from_params([params]).simulate(current_pa[None, :, None].astype("float32"))
    return np.asarray(rates)[0, :, 0]


def epoch_stats(prediction, psth):
    """Per noise epoch: correlation of prediction and PSTH, and the ratio of their means."""
    r, level = [], []
    for epoch in range(3):
        part = slice(epoch * (EPOCH_BINS + GAP_BINS), epoch * (EPOCH_BINS + GAP_BINS) + EPOCH_BINS)
        a, b = prediction[part], psth[part]
        if a.std() > 0 and b.std() > 0:
            r.append(np.corrcoef(a, b)[0, 1])
        if b.mean() > 0:
            level.append(a.mean() / b.mean())
    return (np.mean(r) if r else np.nan), (np.mean(level) if level else np.nan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="cells (real source cells of the shipped Allen table)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--per-line", type=int, default=4)
    parser.add_argument("--sampling-rate", type=int, default=10_000, help="Hz (spike times only; 20 ms bins)")
    parser.add_argument("--repeats", type=int, default=3, help="recorded Noise 1 / Noise 2 sweeps")
    parser.add_argument("--extra-repeats", type=int, default=30, help="Noise 2 sweeps for the noise ceiling")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=EXPR")
    parser.add_argument("--recalibrate", action="store_true", help="apply --set during calibration too")
    parser.add_argument("--train-stimuli", nargs="*", default=["Long Square", "Ramp"], choices=["Long Square", "Ramp"],
                        help="what the neuron fit trains on besides Noise 1 (always: it is also the validation set)")
    args = parser.parse_args()

    started = time.time()
    rows = spiking_bank.choose_cells(load_allen_metadata(), args.n, args.seed, per_line=args.per_line).to_dict("records")
    models = build_models(rows, parse_overrides(args.overrides), args.recalibrate)
    simulated = simulate_sweeps(models, args.sampling_rate, args.repeats, args.seed)
    cells = [processed_cell(int(row["specimen__id"]), sweeps, spikes, args.sampling_rate) for row, (sweeps, spikes) in zip(rows, simulated)]
    config = load_fit_config("default")
    activations = fit_activations(cells, BIN_MS, 1, config)  # always from the Long Squares' first bins
    training = [{**cell, "sweeps": {k: s for k, s in cell["sweeps"].items() if s["stimulus_name"] in (*args.train_stimuli, "Noise 1", "Noise 2")}}
                for cell in cells]
    fits = fit_neurons(training, activations, BIN_MS, 0.0, config)
    extra = noise2_counts(models, simulated, args.sampling_rate, args.extra_repeats, args.seed)

    test_evr, kept, ceiling, within_r, level, rate_hz = [], [], [], [], [], []
    for cell, fit, (counts, current) in zip(cells, fits, extra):
        recorded = np.stack([s["rate_per_ms"][BIN_MS] for s in cell["sweeps"].values() if s["stimulus_name"] == "Noise 2"])
        n = min(recorded.shape[1], counts.shape[1])
        ceiling.append(explained_variance_ratio(recorded[:, :n], counts[:, :n].mean(axis=0)))
        rate_hz.append(1000.0 * recorded.mean())
        if fit["status"] != "ok":
            continue
        test_evr.append(fit["test_evr"])
        kept.append(passes_filters(fit))
        r, ratio = epoch_stats(gfr_prediction(fit["params"], current), counts.mean(axis=0))
        within_r.append(r)
        level.append(ratio)
    test_evr, kept = np.array(test_evr, float), np.array(kept, bool)
    slope_err, rate_err = step_feature_errors(models, simulated, args.sampling_rate)
    print(f"variant: {' '.join(args.overrides) or 'the bank as shipped'}{' (recalibrated)' if args.recalibrate else ''}; "
          f"training stimuli {', '.join([*args.train_stimuli, 'Noise 1'])}; {args.n} cells; {time.time() - started:.0f} s")
    print("| all cells: median test EVR | in dataset | in dataset: median test EVR | noise ceiling (median EVR) "
          "| within-epoch r (median) | epoch level, GFR / PSTH | Noise 2 rate (Hz) | steps: f-I slope, hero rate error |")
    print(f"| {np.nanmedian(test_evr):.3f} | {kept.sum()}/{args.n} | {np.nanmedian(test_evr[kept]) if kept.any() else np.nan:.3f} "
          f"| {np.nanmedian(ceiling):.3f} | {np.nanmedian(within_r):.2f} | {np.nanmedian(level):.2f} | {np.median(rate_hz):.1f} "
          f"| {slope_err:.0%}, {rate_err:.0%} |")


if __name__ == "__main__":
    main()

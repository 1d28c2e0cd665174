"""L-MNIST side by side: GFR networks and Keras recurrent baselines, same data, budget, pipeline and seeds.

Every model is trained by `gfr train-network` with the same epochs, batch size
and learning rate, each over every seed of `--seeds`, in one invocation (seeds
outermost, so every model meets the machine's load alike). The offline split
(the real MNIST test digits as 8,000 train / 2,000 test) and the validation part
carved from the training digits (10 %, 800 digits) are fixed by `--split-seed`
for every run; `--seed` varies the initial weights, the draw of biological
neurons and the order of the training digits. `best.keras` is chosen on
validation accuracy; the test split is predicted once per run, by that model,
for the final figures only. Defaults are to be chosen on validation accuracy.

Writes RUN_ROOT/<model>/seed_<s>/ (result.json, history.csv, best.keras,
TensorBoard logs), RUN_ROOT/summary.json (every run's numbers, each model's
mean ± sd, every pair's comparison), a figure of validation accuracy per epoch
(mean ± sd over seeds), a grid of misclassified digits of the GFR network with
the best mean validation accuracy, and prints Markdown tables: one row per
run, then mean ± sd per model, then every pair with the rule's verdict
(gfr_keras/comparison.py: an order only where the difference of the means
exceeds 2 pooled sds).

    uv run python benchmarks/lmnist_accuracy.py --epochs 10 --seeds 0 1 2 --out runs/lmnist
    uv run python benchmarks/lmnist_accuracy.py --epochs 1 --limit 400 --seeds 0 1 --out runs/smoke   # a smoke run
"""

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gfr_keras.comparison import ORDER_RULE, compare, format_mean_sd, mean_sd

# The shipped dataset has fewer cells at (20,20) than 256 neurons: each cell is drawn several times.
BIOLOGICAL = ["--neurons", "biological", "--sample-with-replacement"]
BIO_FROZEN = [*BIOLOGICAL, "--freeze-neurons"]
# "Biological trained" as the issue and the published code (freeze_g=True) mean it: alpha, beta trained, g fixed.
BIO_TRAINED = [*BIOLOGICAL, "--freeze-activation"]
REFERENCE = ["--protocol", "reference"]
# The side-by-side set: the models README and docs compare with each other.
MODELS = {
    "gfr_default": [],
    "gfr_biological_frozen": BIO_FROZEN,
    "gfr_biological_trained": BIO_TRAINED,
    "simple_rnn": ["--baseline", "simple_rnn"],
    "gru": ["--baseline", "gru"],
    "lstm": ["--baseline", "lstm"],
}
# The published code's scaling, initialisation and training (plain Adam, first-step loss): near chance.
REFERENCE_PROTOCOL = {
    "gfr_biological_frozen_reference": [*BIO_FROZEN, *REFERENCE],
    "gfr_biological_trained_reference": [*BIO_TRAINED, *REFERENCE],
    "gfr_default_reference": REFERENCE,
}
# The ablation: biological frozen with one option of the neuron scaling switched off at a time.
ABLATION = {
    "ablation_no_centre_drive": [*BIO_FROZEN, "--scaling-option", "centre_drive=false"],
    "ablation_no_rest_state": [*BIO_FROZEN, "--scaling-option", "rest_state=false"],
    "ablation_width_sigma": [*BIO_FROZEN, "--scaling-option", "drive_width=sigma"],
    "ablation_recurrent_per_ms": [*BIO_FROZEN, "--scaling-option", "recurrent_rates=per_ms"],
    "ablation_readout_per_ms": [*BIO_FROZEN, "--scaling-option", "readout_rates=per_ms"],
    "ablation_readout_hz": [*BIO_FROZEN, "--scaling-option", "readout_rates=hz"],  # the default since the refit
    "ablation_readout_normalized": [*BIO_FROZEN, "--scaling-option", "readout_rates=normalized"],
}
# Variants outside the side-by-side set.
EXTRA = {
    # Biological neurons with g trained too (b, c: the fitted activation moves).
    "gfr_biological_trained_activation": BIOLOGICAL,
    # Default neurons, one option of DEFAULT_NEURON_OPTIONS changed (the spec's traces: before issue #15's default).
    "gfr_default_fast_traces": ["--scaling-option", "traces=fast"],
    "gfr_default_bin20_traces": ["--scaling-option", "bin_size_ms=20"],
    "gfr_default_freeze_activation": ["--freeze-activation"],
    # Biological trained with the readout of normalised rates (the default before the Hz readout).
    "gfr_biological_trained_readout_normalized": [*BIO_TRAINED, "--scaling-option", "readout_rates=normalized"],
}
ALL = {**MODELS, **REFERENCE_PROTOCOL, **ABLATION, **EXTRA}


def main():
    args = _arguments()
    runs = {name: {} for name in args.models}
    for seed, name in itertools.product(args.seeds, args.models):  # seeds outermost: every model meets the load alike
        runs[name][seed] = train(name, seed, args)
    digits = check_same_digits(runs)
    comparisons = compare_models(runs)
    print_tables(runs, comparisons, args, digits)
    summary = {"command": " ".join(sys.argv), "order_rule": ORDER_RULE, "digits": digits, "seeds": args.seeds,
               "runs": runs, "models": summarize(runs), "comparisons": comparisons}
    from gfr_keras.io_utils import write_json_atomic

    write_json_atomic(summary, os.path.join(args.out, "summary.json"), indent=1)
    figures(runs, args.out)


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-nodes", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(ALL), metavar="MODEL",
                        help=f"any of {', '.join(ALL)} (default: the side-by-side set, {', '.join(MODELS)})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="gfr train-network --seed of each run (default: %(default)s)")
    parser.add_argument("--split-seed", type=int, default=0, help="gfr train-network --split-seed, the same for every run")
    parser.add_argument("--limit", type=int, help="gfr train-network --limit: the first N training digits (smoke runs)")
    parser.add_argument("--dataset", help="GFR dataset JSON of the biological models (default: the shipped one)")
    parser.add_argument("--reuse-finished", action="store_true",
                        help="keep a run whose result.json already holds --epochs epochs (resuming an interrupted benchmark)")
    parser.add_argument("--out", default="runs/lmnist")
    args = parser.parse_args()
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds: each seed once, got {args.seeds}")
    return args


def train(name, seed, args):
    """One `gfr train-network` run in its own process, as a user runs it; its result.json with the curve and wall time."""
    out = os.path.join(args.out, name, f"seed_{seed}")
    argv = ["train-network", "--epochs", str(args.epochs), "--n-nodes", str(args.n_nodes), "--batch-size",
            str(args.batch_size), "--lr", str(args.lr), "--seed", str(seed), "--split-seed", str(args.split_seed),
            "--out", out, *ALL[name]]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    if args.dataset and "biological" in ALL[name]:
        argv += ["--dataset", args.dataset]
    result_path = os.path.join(out, "result.json")
    if args.reuse_finished and _finished(result_path, args.epochs):
        print(f"== {name}, seed {seed}: reusing {result_path}", flush=True)
        process_s = None
    else:
        print(f"== {name}, seed {seed}: gfr {' '.join(argv)}  (load average {os.getloadavg()[0]:.1f})", flush=True)
        started = time.perf_counter()
        if subprocess.run(["gfr", *argv]).returncode != 0:
            raise SystemExit(f"{name}, seed {seed} failed: gfr {' '.join(argv)}")
        process_s = time.perf_counter() - started
    with open(result_path) as handle:
        result = json.load(handle)
    with open(os.path.join(out, "history.csv"), newline="") as handle:
        result["curve"] = [float(row["val_probabilities_accuracy"]) for row in csv.DictReader(handle)]
    result["process_wall_s"] = process_s
    return result


def _finished(result_path, epochs):
    if not os.path.exists(result_path):
        return False
    with open(result_path) as handle:
        result = json.load(handle)
    return result.get("epochs") == epochs and result.get("epochs_this_run", 0) > 0


def check_same_digits(runs):
    """The validation and test digests every run shares; an error if any run chose or was tested on other digits."""
    seen = {(r.get("validation_digits_sha1"), r.get("test_digits_sha1"), r["data"]) for by_seed in runs.values()
            for r in by_seed.values()}
    if len(seen) != 1:
        raise SystemExit(f"the runs were validated or tested on different digits: {sorted(map(str, seen))}")
    validation, test, label = seen.pop()
    return {"validation_digits_sha1": validation, "test_digits_sha1": test, "data": label}


def _values(by_seed, key):
    return [by_seed[seed][key] for seed in sorted(by_seed)]


def summarize(runs):
    """Mean and sd over seeds of each model's accuracies."""
    keys = ("best_val_accuracy", "test_accuracy", "test_accuracy_first_step", "train_accuracy")
    return {
        name: {key: dict(zip(("mean", "sd"), mean_sd(_values(by_seed, key)))) for key in keys}
        | {"seeds": sorted(by_seed)}
        for name, by_seed in runs.items()
    }


def compare_models(runs):
    """Every pair of models, on validation accuracy (what chooses) and test accuracy (what is reported)."""
    comparisons = []
    for a, b in itertools.combinations(runs, 2):
        row = {"a": a, "b": b}
        for key in ("best_val_accuracy", "test_accuracy"):
            row[key] = compare(a, _values(runs[a], key), b, _values(runs[b], key))
        comparisons.append(row)
    return comparisons


def print_tables(runs, comparisons, args, digits):
    first = next(iter(next(iter(runs.values())).values()))
    print(f"\n{digits['data']}; {args.epochs} epochs, batch {args.batch_size}, Adam {args.lr}, {first['n_nodes']} units; "
          f"split seed {args.split_seed} (validation {digits['validation_digits_sha1']}, test {digits['test_digits_sha1']}); "
          f"seeds {' '.join(map(str, args.seeds))}\n")
    print("| model | seed | best val acc | test acc | test acc, first step only | train acc | wall s (process) | samples/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, by_seed in runs.items():
        for seed, r in sorted(by_seed.items()):
            wall = "—" if r["process_wall_s"] is None else f"{r['process_wall_s']:.0f}"
            print(f"| {name} | {seed} | {r['best_val_accuracy']:.4f} | {r['test_accuracy']:.4f} | "
                  f"{r['test_accuracy_first_step']:.4f} | {r['train_accuracy']:.4f} | {wall} | {r['train_samples_per_s']:.0f} |")
    print("\nMean ± sd over seeds (sd with n - 1):\n")
    print("| model | trainable params | best val acc | test acc | test acc, first step only | train acc |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, by_seed in runs.items():
        cells = [format_mean_sd(_values(by_seed, key)) for key in
                 ("best_val_accuracy", "test_accuracy", "test_accuracy_first_step", "train_accuracy")]
        print(f"| {name} | {next(iter(by_seed.values()))['trainable_parameters']} | {' | '.join(cells)} |")
    print(f"\nEvery pair. Rule: {ORDER_RULE}.\n")
    print("| A − B | val: mean difference (pooled sd) | val: verdict | test: mean difference (pooled sd) | "
          "test: Welch t | test: verdict |")
    print("|---|---:|---|---:|---:|---|")
    for row in comparisons:
        val, test = row["best_val_accuracy"], row["test_accuracy"]
        print(f"| {row['a']} − {row['b']} | {val['difference']:+.4f} ({val['pooled_sd']:.4f}) | {val['verdict']} | "
              f"{test['difference']:+.4f} ({test['pooled_sd']:.4f}) | {test['welch_t']:.1f} | {test['verdict']} |")


def figures(runs, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, by_seed in runs.items():
        curves = [r["curve"] for r in by_seed.values()]
        length = min(len(c) for c in curves)
        stacked = np.array([c[:length] for c in curves])
        mean, epochs = stacked.mean(axis=0), np.arange(1, length + 1)
        line = axis.plot(epochs, mean, marker="o", ms=3, label=f"{name} (n={len(curves)})")[0]
        if len(curves) > 1:
            sd = stacked.std(axis=0, ddof=1)
            axis.fill_between(epochs, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, lw=0)
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation accuracy (mean ± sd over seeds)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "accuracy_vs_epoch.png"), dpi=100)
    plt.close(figure)
    misclassified(runs, out)


def misclassified(runs, out):
    """Misclassified test digits of the GFR model with the best mean validation accuracy (its best seed by validation)."""
    import keras
    import matplotlib.pyplot as plt
    import numpy as np

    from gfr_keras.network.mnist import offline_mnist

    gfr_runs = [n for n in runs if n.startswith("gfr")]
    if not gfr_runs:
        return
    best = max(gfr_runs, key=lambda n: mean_sd(_values(runs[n], "best_val_accuracy"))[0])
    seed = max(runs[best], key=lambda s: runs[best][s]["best_val_accuracy"])
    run = runs[best][seed]
    model = keras.saving.load_model(os.path.join(out, best, f"seed_{seed}", "best.keras"))
    images, labels = offline_mnist(run["split_seed"])["test"]
    predicted = np.argmax(model.predict(images, batch_size=512, verbose=0)["probabilities"], axis=1)
    wrong = np.flatnonzero(predicted != labels)
    figure, axes = plt.subplots(5, 8, figsize=(9, 6))
    for axis, index in zip(axes.ravel(), list(wrong[:40]) + [None] * 40):
        axis.axis("off")
        if index is not None:
            axis.imshow(images[index], cmap="gray_r")
            axis.set_title(f"{labels[index]} → {predicted[index]}", fontsize=8)
    figure.suptitle(f"misclassified by {best}, seed {seed} (label → prediction): {len(wrong)} of {len(labels)} test digits")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "misclassified.png"), dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()

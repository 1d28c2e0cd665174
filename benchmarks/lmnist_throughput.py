"""L-MNIST training time, GFR networks against Keras' recurrent layers, side by side, in one invocation.

Two parts (`--part`):

* `command` (the default): what a user waits for. `gfr train-network` runs
  once per model and repeat, interleaved (A B C ... A B C ...), each in a fresh
  process and run folder; reported per model as medians over the repeats: the
  whole command (start to exit), the first epoch (tracing and compilation
  included) and the steady state (the median epoch after the first: its
  training batches, per step). `--cache cold` gives every run an empty
  compilation cache (a user's first run), `warm` a cache the model's earlier
  run filled (every later run), `both` reports the two. Needs TensorFlow.
* `steps`: steady-state samples/s in this process: every model trains with
  `model.fit` on the same digits after a warm-up fit that compiles it, timed in
  interleaved rounds, median round kept. Also times the GFR network under a
  plain `keras.layers.RNN` (weights read every step, flat traces, every step's
  rates kept for the gradient), the loop `GFRNetworkRNN` replaces. Runs on
  either backend (the GPU session uses it under JAX).

Ratios are to SimpleRNN from the same invocation.

    uv run python benchmarks/lmnist_throughput.py                               # the command, 3 repeats
    uv run python benchmarks/lmnist_throughput.py --part steps --jit-compile on
    KERAS_BACKEND=jax python benchmarks/lmnist_throughput.py --part steps      # e.g. on a GPU
"""

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import gfr_keras as gk
from gfr_keras.network.mnist import offline_mnist
from gfr_keras.network import (
    READOUT_STEPS,
    AppendZeroSteps,
    GFRNetworkCell,
    ReadoutSteps,
    SelectSteps,
    build_gfr_network,
    compile_network,
    network_targets,
)


def gfr_network_plain_rnn(n_nodes):
    """The default GFR network with `keras.layers.RNN` around the cell (the generic loop)."""
    images = keras.Input((28, 28), name="images")
    rates = keras.layers.RNN(GFRNetworkCell(n_nodes), return_sequences=True)(AppendZeroSteps(READOUT_STEPS)(images))
    rates = SelectSteps(28, READOUT_STEPS)(rates)
    first, readout, probabilities = ReadoutSteps(0, READOUT_STEPS)(keras.layers.Dense(10)(rates))
    outputs = {"logits": first, "readout_logits": readout, "probabilities": probabilities}
    return keras.Model(images, outputs, name="gfr_network_plain_rnn")


def build(name, n_nodes, jit_compile="auto"):
    from gfr_keras.network.baselines import build_baseline

    if name in ("simple_rnn", "gru", "lstm"):
        model = build_baseline(name, n_nodes)
    elif name == "gfr_default":
        model = build_gfr_network(n_nodes)
    elif name == "gfr_default_frozen_neurons":
        model = build_gfr_network(n_nodes, freeze_neurons=True)
    elif name in ("gfr_biological", "gfr_biological_frozen"):
        # The neuron scaling (the default): alpha, beta trained with g fixed, or every neuron frozen.
        model = build_gfr_network(n_nodes, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH,
                                  sample_with_replacement=True, freeze_activation=True,
                                  freeze_neurons=name == "gfr_biological_frozen")
    elif name == "gfr_default_plain_keras_rnn":
        model = gfr_network_plain_rnn(n_nodes)
    else:
        raise ValueError(f"unknown model {name!r}")
    return compile_network(model, 1e-3, jit_compile=jit_compile)


MODELS = [
    "simple_rnn", "gru", "lstm", "gfr_default", "gfr_default_frozen_neurons", "gfr_biological", "gfr_biological_frozen",
    "gfr_default_plain_keras_rnn",
]


COMMAND_MODELS = {
    "gfr_default": ["--neurons", "default"],
    # The default network without its neurons' parameter gradients: the floor of what a faster
    # backward pass for alpha, beta and g could give the command.
    "gfr_default_frozen_neurons": ["--neurons", "default", "--freeze-neurons"],
    "gfr_biological": ["--neurons", "biological", "--sample-with-replacement", "--freeze-activation"],
    "simple_rnn": ["--baseline", "simple_rnn"],
    "gru": ["--baseline", "gru"],
    "lstm": ["--baseline", "lstm"],
}


def time_command(flags, run_dir, cache_dir):
    """One `gfr train-network` in a fresh process: `{whole_s, first_epoch_s, steady_step_ms, steps}` from its history."""
    gfr = os.path.join(os.path.dirname(sys.executable), "gfr")
    environment = {**os.environ, "GFR_COMPILATION_CACHE": cache_dir}
    start = time.perf_counter()
    subprocess.run([gfr, "train-network", *flags, "--out", run_dir], check=True, env=environment,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    whole_s = time.perf_counter() - start
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(os.path.join(run_dir, "result.json")) as handle:
        result = json.load(handle)
    steps = int(round(result["train_samples_per_s"] * result["wall_time_s"] / result["epochs"] / result["batch_size"]))
    later = [float(row["train_time_s"]) for row in rows[1:]]
    return {
        "whole_s": whole_s,
        "first_epoch_s": float(rows[0]["epoch_time_s"]),
        "steady_step_ms": 1e3 * statistics.median(later) / steps if later else float("nan"),
        "val_accuracy": [float(row["val_probabilities_accuracy"]) for row in rows],
    }


def command_part(args):
    """`gfr train-network` per model and repeat, interleaved; a table of medians per cache state."""
    work = tempfile.mkdtemp(prefix="lmnist_command_")
    common = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--n-nodes", str(args.n_nodes), "--lr", "0.001"]
    states = ("cold", "warm") if args.cache == "both" else (args.cache,)
    timings = {(state, name): [] for state in states for name in args.command_models}
    for state in states:
        for repeat in range(args.repeats + (state == "warm")):  # warm: the first round fills each model's cache
            for name in args.command_models:
                run_dir = os.path.join(work, f"{state}-{name}-{repeat}")
                cache = os.path.join(work, f"cache-{state}-{name}" + (f"-{repeat}" if state == "cold" else ""))
                timing = time_command(COMMAND_MODELS[name] + common, run_dir, cache)
                shutil.rmtree(run_dir, ignore_errors=True)
                if state == "warm" and repeat == 0:
                    continue
                timings[(state, name)].append(timing)
                print(f"{state} {name} repeat {repeat}: " + ", ".join(
                    f"{k} {v:.2f}" for k, v in timing.items() if k != "val_accuracy"), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n`gfr train-network` {' '.join(common)}, offline digits; backend {keras.backend.backend()}, "
          f"{os.cpu_count()} CPUs; medians of {args.repeats} interleaved repeats; ratio = model / SimpleRNN\n")
    print("| compilation cache | model | whole command (s) | first epoch (s) | steady-state step (ms) |")
    print("|---|---|---:|---:|---:|")
    for state in states:
        medians = {name: {key: statistics.median(t[key] for t in timings[(state, name)]) for key in ("whole_s", "first_epoch_s", "steady_step_ms")}
                   for name in args.command_models}
        reference = medians.get("simple_rnn")
        for name, values in medians.items():
            cells = [f"{values[key]:.{1 if key != 'steady_step_ms' else 0}f}" + (f" ({values[key] / reference[key]:.2f}x)" if reference else "")
                     for key in ("whole_s", "first_epoch_s", "steady_step_ms")]
            print(f"| {state} | {name} | " + " | ".join(cells) + " |")


def steps_part(args):
    images, labels = offline_mnist()["train"]
    n = args.batch_size * args.steps
    x, y = images[:n], labels[:n]
    jit = {"auto": "auto", "on": True, "off": False}[args.jit_compile]
    models = {name: build(name, args.n_nodes, jit) for name in args.models}
    targets = {name: network_targets(y, model) for name, model in models.items()}
    for name, model in models.items():  # compile (and XLA-trace) outside the timing
        model.fit(x, targets[name], batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
    rates = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, targets[name], batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
            rates[name].append(n / (time.perf_counter() - start))
    median = {name: statistics.median(values) for name, values in rates.items()}
    reference = median.get("simple_rnn")
    print(f"\nbackend {keras.backend.backend()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"XLA {args.jit_compile} (resolved: {sorted({str(m.jit_compile) for m in models.values()})}); "
          f"{args.n_nodes} hidden units, batch {args.batch_size}, {args.steps} batches x {args.rounds} interleaved rounds (median)\n")
    print("| model | samples/s | SimpleRNN / model |")
    print("|---|---:|---:|")
    for name, value in median.items():
        ratio = f"{reference / value:.2f}" if reference else "-"
        print(f"| {name} | {value:.0f} | {ratio} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("command", "steps"), default="command")
    parser.add_argument("--n-nodes", type=int, default=256)
    parser.add_argument("--batch-size", type=int, help="default: 128 (command), 64 (steps)")
    parser.add_argument("--epochs", type=int, default=5, help="command: epochs per run")
    parser.add_argument("--repeats", type=int, default=3, help="command: runs per model and cache state")
    parser.add_argument("--cache", choices=("cold", "warm", "both"), default="both", help="command: compilation cache state")
    parser.add_argument("--command-models", nargs="+", default=["gfr_default", "simple_rnn", "gru", "lstm"], choices=sorted(COMMAND_MODELS))
    parser.add_argument("--steps", type=int, default=20, help="steps: batches per timed fit")
    parser.add_argument("--rounds", type=int, default=3, help="steps: interleaved rounds")
    parser.add_argument("--models", nargs="+", default=MODELS, help="steps: the models")
    parser.add_argument(
        "--jit-compile", choices=("auto", "on", "off"), default="auto",
        help="steps: XLA for every model: Keras' auto (off on a CPU-only TensorFlow machine), on or off",
    )
    args = parser.parse_args()
    if args.batch_size is None:
        args.batch_size = 128 if args.part == "command" else 64
    (command_part if args.part == "command" else steps_part)(args)


if __name__ == "__main__":
    main()

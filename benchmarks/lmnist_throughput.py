"""L-MNIST training throughput (samples/s): GFR networks against Keras' recurrent layers, side by side.

Every model trains with `model.fit` on the same 28x28 digits (batch 64, 256
hidden units by default) after a warm-up fit that compiles it. Models are timed
in interleaved rounds (A B C ... A B C ...) and the median round is kept, so a
change in machine load hits all of them alike; ratios are to SimpleRNN from the
same run. Also times the GFR network under a plain `keras.layers.RNN` (weights
read every step, flat traces, every step's rates kept for the gradient), the
loop `GFRNetworkRNN` replaces.

    uv run python benchmarks/lmnist_throughput.py                     # TensorFlow, this CPU
    KERAS_BACKEND=jax python benchmarks/lmnist_throughput.py          # e.g. on a GPU
"""

import argparse
import os
import platform
import statistics
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
        model = build_gfr_network(n_nodes, neurons="biological", dataset=gk.SHIPPED_DATASET_PATH, sample_with_replacement=True,
                                  freeze_activation=True, freeze_neurons=name == "gfr_biological_frozen")
    elif name == "gfr_default_plain_keras_rnn":
        model = gfr_network_plain_rnn(n_nodes)
    else:
        raise ValueError(f"unknown model {name!r}")
    return compile_network(model, 1e-3, jit_compile=jit_compile)


MODELS = [
    "simple_rnn", "gru", "lstm", "gfr_default", "gfr_default_frozen_neurons", "gfr_biological", "gfr_biological_frozen",
    "gfr_default_plain_keras_rnn",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-nodes", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="batches per timed fit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument(
        "--jit-compile", choices=("auto", "on", "off"), default="auto",
        help="XLA for every model: Keras' auto (off on a CPU-only TensorFlow machine), on or off",
    )
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()

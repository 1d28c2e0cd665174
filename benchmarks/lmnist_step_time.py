"""Median time of one L-MNIST training step (`train_on_batch`, batch 64 unless `--batch-size`) per model, for profiling the GFR loop.

Steadier than `lmnist_throughput.py`'s `fit` rounds on a shared machine (the
median of many single steps, models interleaved in blocks of 10). Besides the
models of `lmnist_throughput.py`:

- `simple_rnn_33_all_outputs`: Keras' SimpleRNN over the GFR network's 33 steps
  (28 rows + 5 zero-input), every step's output kept, the readout on the 5
  zero-input steps: SimpleRNN in the GFR network's structure.
- `<gfr model>_single_loop`: the GFR network with `trained_from_step=None` (the
  loop keeps every step's rates for the gradient).
- `simple_rnn_maths_in_gfr_loop`: the GFR network's own loop (33 steps, split
  at the readout, weights folded) with SimpleRNN's step, `f = tanh(d_t + f W)`,
  in place of the neurons: what the network's structure costs without the GFR
  maths.

    uv run python benchmarks/lmnist_step_time.py --jit-compile on
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from gfr_keras.network import READOUT_STEPS, AppendZeroSteps, ReadoutSteps, SelectSteps, compile_network, network_targets
from gfr_keras.network import loop
from gfr_keras.network.mnist import offline_mnist
from gfr_keras.network.weights import folded_projections
from lmnist_throughput import build

MODELS = ["simple_rnn", "simple_rnn_33_all_outputs", "simple_rnn_maths_in_gfr_loop", "gfr_default", "gfr_default_single_loop", "gfr_default_frozen_neurons",
          "gfr_biological", "gfr_biological_frozen"]


_gfr_network_step = loop._network_step


def _step_of(cell, weights):
    """The loop's step function: the cell's own, or SimpleRNN's for a cell marked `simple_rnn_maths`."""
    if not getattr(cell, "simple_rnn_maths", False):
        return _gfr_network_step(cell, weights)
    _, _, recurrent_kernel = folded_projections(weights, cell.recurrent_rates)

    def step(drive_t, states):
        rates, traces = states
        rates = keras.ops.tanh(drive_t + keras.ops.matmul(rates, recurrent_kernel))
        return rates, [rates, traces]  # the traces pass through untouched

    return step


loop._network_step = _step_of  # read when a model's step is traced


def build_model(name, jit):
    if name == "simple_rnn_maths_in_gfr_loop":
        model = build("gfr_default_frozen_neurons", 256, jit)
        model.get_layer("gfr_rnn").cell.simple_rnn_maths = True
        return model
    if name == "simple_rnn_33_all_outputs":
        keras.utils.set_random_seed(0)
        images = keras.Input((28, 28), name="images")
        rates = keras.layers.SimpleRNN(256, return_sequences=True)(AppendZeroSteps(READOUT_STEPS)(images))
        logits = keras.layers.Dense(10)(SelectSteps(28, READOUT_STEPS)(rates))
        first, readout, probabilities = ReadoutSteps(0, READOUT_STEPS)(logits)
        model = keras.Model(images, {"logits": first, "readout_logits": readout, "probabilities": probabilities})
        return compile_network(model, 1e-3, jit_compile=jit)
    model = build(name.removesuffix("_single_loop"), 256, jit)
    if name.endswith("_single_loop"):
        model.get_layer("gfr_rnn").trained_from_step = None
    return model


def step_times_ms(models, x, targets, rounds):
    """`{name: [ms of each timed step]}`: `rounds` blocks of 10 `train_on_batch` steps per model, the models
    interleaved block by block so that a slower stretch of a shared machine touches every model alike."""
    for name, model in models.items():
        for _ in range(3):  # compile outside the timing
            model.train_on_batch(x, targets[name])
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            for _ in range(10):
                start = time.perf_counter()
                model.train_on_batch(x, targets[name])
                times[name].append(1000 * (time.perf_counter() - start))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--rounds", type=int, default=8, help="blocks of 10 steps per model")
    parser.add_argument("--jit-compile", choices=("on", "off"), default="on")
    parser.add_argument("--batch-size", type=int, default=64, help="digits per training step")
    args = parser.parse_args()
    images, labels = offline_mnist()["train"]
    x, y = images[:args.batch_size], labels[:args.batch_size]
    models = {name: build_model(name, args.jit_compile == "on") for name in args.models}
    targets = {name: network_targets(y, model) for name, model in models.items()}
    times = step_times_ms(models, x, targets, args.rounds)
    reference = statistics.median(times[args.models[0]])
    print(f"\nXLA {args.jit_compile}, batch {args.batch_size}; median of {10 * args.rounds} steps per model\n")
    print(f"| model | ms per step | / {args.models[0]} |")
    print("|---|---:|---:|")
    print("\n".join(f"| {name} | {statistics.median(ms):.1f} | {statistics.median(ms) / reference:.2f} |"
                    for name, ms in times.items()))


if __name__ == "__main__":
    main()

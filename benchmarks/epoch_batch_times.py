"""Every training batch of an L-MNIST run timed: the steady step and the stalls at epoch boundaries.

`benchmarks/lmnist_throughput.py --part command` reads whole epochs from
`history.csv`; an epoch that holds one slow batch then reads as a slow
steady state. This script runs what `gfr train-network` runs (`build_model`,
the offline digits, `train_lmnist` with its run folder and callbacks) with one
more callback that times each training batch, for each model in turn and
repeat, interleaved, and prints per epoch the median batch and every batch
slower than `--slow-ms`.

    uv run python benchmarks/epoch_batch_times.py --models gfr_default simple_rnn --repeats 2
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from gfr_keras.network.mnist import load_mnist
from gfr_keras.network.train import build_model, train_lmnist

MODELS = {"gfr_default": {"neuron_kind": "default"}, "simple_rnn": {"baseline": "simple_rnn"},
          "gru": {"baseline": "gru"}, "lstm": {"baseline": "lstm"}}


class BatchTimes(keras.callbacks.Callback):
    """Per epoch, the seconds between the ends of consecutive training batches (the first from the epoch's start)."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append([])
        self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.epochs[-1].append(now - self._last)
        self._last = now


def run(name, epochs, batch_size, units, seed):
    """The batch times of one run (`[epoch][batch]`, s)."""
    # As `gfr train-network` builds it: XLA on (its `--jit-compile on` default), learning rate 1e-3.
    model = build_model(units, learning_rate=1e-3, seed=seed, jit_compile=True, **MODELS[name])
    timer = BatchTimes()
    with tempfile.TemporaryDirectory(prefix="batch_times_") as run_dir:
        train_lmnist(model, load_mnist(), os.path.join(run_dir, "run"), epochs=epochs, batch_size=batch_size,
                     seed=seed, split_seed=0, callbacks=[timer])
    return timer.epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["gfr_default", "simple_rnn"], choices=sorted(MODELS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-nodes", type=int, default=256)
    parser.add_argument("--slow-ms", type=float, default=100.0, help="a batch slower than this is listed")
    args = parser.parse_args()
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPUs; {args.n_nodes} units, batch {args.batch_size}, "
          f"{args.epochs} epochs, offline digits; models interleaved, {args.repeats} repeats\n")
    print("| model | repeat | epoch | batches | median batch (ms) | batches slower than the limit (index: ms) |")
    print("|---|---:|---:|---:|---:|---|")
    for repeat in range(args.repeats):
        for name in args.models:
            for epoch, times in enumerate(run(name, args.epochs, args.batch_size, args.n_nodes, seed=repeat)):
                slow = ", ".join(f"{i}: {1e3 * t:.0f}" for i, t in enumerate(times) if 1e3 * t > args.slow_ms)
                print(f"| {name} | {repeat} | {epoch} | {len(times)} | {1e3 * statistics.median(times):.1f} | {slow} |",
                      flush=True)


if __name__ == "__main__":
    main()

"""Fitting throughput: cell-epochs per second of `gfr_keras.fitting.fit_neurons`, on any Keras backend.

One epoch is the published protocol's: one Adam step on each training batch
(Long Square 15 x 50, Ramp 3 x 400, Noise 1 3 x 1100 steps at 20 ms bins) and a
Noise 2 (3 x 1100) test-loss evaluation, for every unit of the population at
once. The published code takes 0.77-0.89 s per epoch for ONE cell on this
machine (measured by the issue's author with the seed; we quote 0.8 s).

The cells are benchmark cells (gfr_keras.fitting.benchmark_cells): GFR neurons with random
thresholds and weights driven by the published stimulus shapes, their rates
turned into Poisson spike counts, so N processed cells take seconds instead of
N GLIF simulations. Time per epoch is the median wall time of the epochs after
the first (which traces and compiles), as `fit_neurons` records it. A
population of N units here is N cells with one learning rate: the same arrays
as N/3 cells x 3 learning rates (7,000 units ~ the 2,333 cells x 3 of the database).

    uv run python benchmarks/fit_throughput.py                      # TensorFlow, XLA on and off
    KERAS_BACKEND=jax uv run python benchmarks/fit_throughput.py    # JAX (always XLA)
    uv run python benchmarks/fit_throughput.py --units 1 100 --epochs 6
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from gfr_keras.fitting.benchmark_cells import benchmark_cells

REFERENCE_S_PER_CELL_EPOCH = 0.8
BIN_MS = 20


def epoch_seconds(cells, activations, epochs, jit_compile=None):
    from gfr_keras.fitting.trainer import fit_neurons

    config = {"hparams": [{"lr": 1e-3, "epochs": epochs}], "early_stop_repeats": 10**9}
    stats = {}
    results = fit_neurons(cells, activations, BIN_MS, config=config, jit_compile=jit_compile, stats=stats)
    assert all(r["epochs"] == epochs for r in results), [r.get("failure_reason") for r in results[:3]]
    return float(np.median(stats["epoch_seconds"][1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1, 100, 1000, 7000])
    parser.add_argument("--epochs", type=int, default=6, help="epochs per measurement (default: %(default)s)")
    args = parser.parse_args()
    import keras

    backend = keras.backend.backend()
    version = __import__("tensorflow" if backend == "tensorflow" else backend).__version__
    devices = [str(d) for d in __import__("jax").devices()] if backend == "jax" else []
    print(
        f"Keras {keras.__version__}, {backend} {version} {devices}, {platform.machine()}, {os.cpu_count()} CPUs; "
        f"median of epochs 2-{args.epochs}; reference {REFERENCE_S_PER_CELL_EPOCH} s per cell-epoch\n"
    )
    print("| backend | units | XLA | make cells (s) | s per epoch (all units) | cell-epochs/s | × the reference |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for n in args.units:
        started = time.perf_counter()
        cells, activations = benchmark_cells(n)
        made = time.perf_counter() - started
        for jit in (True, False) if backend == "tensorflow" else (True,):
            seconds = epoch_seconds(cells, activations, args.epochs, jit_compile=jit)
            rate = n / seconds
            print(f"| {backend} | {n} | {'on' if jit else 'off'} | {made:.1f} | {seconds:.3f} | {rate:.1f} | "
                  f"{rate * REFERENCE_S_PER_CELL_EPOCH:.0f} |", flush=True)


if __name__ == "__main__":
    main()

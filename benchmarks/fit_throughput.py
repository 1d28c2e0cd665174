"""Fitting throughput: cell-epochs per second of `gfr_keras.fitting.fit_neurons`, on any Keras backend.

One epoch is the published protocol's: one Adam step on each training batch
(Long Square 15 x 50, Ramp 3 x 400, Noise 1 3 x 1100 steps at 20 ms bins) and a
Noise 2 (3 x 1100) test-loss evaluation, for every unit of the population at
once. The published code takes 0.77-0.89 s per epoch for ONE cell on this
machine (measured by the issue's author with the seed; we quote 0.8 s).

The cells are benchmark cells (`benchmark_cells`): GFR neurons with random
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

REFERENCE_S_PER_CELL_EPOCH = 0.8
BIN_MS = 20
SHAPES = {"Long Square": (15, 50), "Ramp": (3, 400), "Noise 1": (3, 1100), "Noise 2": (3, 1100)}


def stimulus_currents(name, n_sweeps, length, n_cells, rng):
    """`[sweeps, time, cells]` currents (pA) shaped like the Allen stimuli at 20 ms bins."""
    t = np.arange(length)
    if name == "Long Square":  # a step (1 s on, from bin 5) at 15 amplitudes, 20 pA apart
        amplitude = 20.0 * np.arange(n_sweeps)[:, None, None] + rng.uniform(40, 120, (1, 1, n_cells))
        return amplitude * ((t >= 5) & (t < 55))[None, :, None]
    if name == "Ramp":  # 25 pA/s from zero
        return np.broadcast_to((t * BIN_MS * 0.025)[None, :, None], (n_sweeps, length, n_cells)).copy()
    base = rng.uniform(80, 200, (1, 1, n_cells))  # Noise: a baseline plus pink-ish noise
    return base * (1.0 + 0.5 * rng.standard_normal((n_sweeps, length, n_cells)).cumsum(1) / np.sqrt(1 + t)[None, :, None])


def benchmark_cells(n_cells, seed=0):
    """`n_cells` processed-cell dicts and their true activations, in seconds.

    Each cell is a GFR neuron (threshold 40-150 pA, sigma 300 pA, gamma 0.1/ms, slight
    adaptation) run over the published batch shapes; its observed rates are Poisson
    counts of the model's rates per 20 ms bin.
    """
    from gfr_keras.neurons.layer import GFR
    from gfr_keras.neurons.params import fresh_params

    rng = np.random.default_rng(seed)
    activations, params = [], []
    for _ in range(n_cells):
        g = {"max_current": [300.0], "max_firing_rate": [0.1], "poly_coeff": [[0.1, 1.0]],
             "b": [float(rng.uniform(40, 150))], "bin_size": BIN_MS}
        p = fresh_params(g, BIN_MS)
        p["b"] = (-rng.uniform(0, 2e-3, np.shape(p["b"]))).tolist()
        activations.append({"g": g, "loss": 0.0, "status": "ok"})
        params.append(p)
    layer = GFR.from_params(params, return_sequences=True)
    cells = [{"cell_id": i, "max_firing_rate_per_ms": 0.1, "sampling_rate_hz": 10000.0, "species": "", "cre_line": "",
              "sweeps": {}} for i in range(n_cells)]
    for name, (n_sweeps, length) in SHAPES.items():
        current = stimulus_currents(name, n_sweeps, length, n_cells, rng).astype("float32")
        rate = np.asarray(layer(current))
        counts = rng.poisson(np.clip(rate, 0, None) * BIN_MS) / BIN_MS
        for cell in cells:
            for sweep in range(n_sweeps):
                number = len(cell["sweeps"])
                cell["sweeps"][number] = {
                    "stimulus_name": name,
                    "current_pa": {BIN_MS: current[sweep, :, cell["cell_id"]]},
                    "rate_per_ms": {BIN_MS: counts[sweep, :, cell["cell_id"]]},
                }
    return cells, activations


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
    print(
        f"Keras {keras.__version__}, {backend} {version}, {platform.machine()}, {os.cpu_count()} CPUs; "
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

"""The ceiling for fitting under JAX: the GFR recurrence as a plain `jax.lax.scan`, against the engine.

The recurrence is written here from the model equations (docs/model.md,
sections 1-2), with nothing of Keras or gfr_keras in it:

    h_t = (1 - lam) * h_{t-1} + alpha * I_t + 1000 * beta * f_{t-1}
    f_t = max(0, gamma * tanh(c_0^2 + c_1^2 * (mean(h_t) - b) / sigma))

and the loss is the fit's Poisson NLL on counts, `p*B - y*B*log(p*B + eps)`,
summed. Before timing, the scan is checked against the project's `GFR` layer
on the same neurons and current (largest difference printed).

Measured per population of N cells (benchmark cells, 20 ms bins, N units):
- `fwd+bwd noise`: loss and gradients (alpha, beta) on one Noise batch,
  3 sweeps x 1,100 bins (the figure the issue quotes: 2,048 cells in 24 ms
  on an H200);
- `ceiling epoch`: one published epoch as ONE compiled function: an Adam step
  on Long Square (15 x 50), Ramp (3 x 400) and Noise 1 (3 x 1,100), then the
  Noise 2 (3 x 1,100) loss;
- `engine epoch`: the same epoch by `gfr_keras.fitting.fit_neurons` (median of
  epochs 2..E, as fit_throughput.py measures it), and its ratio to the ceiling.

Ceiling and engine are timed in interleaved rounds (`--rounds`), so that a
change of the machine's load reaches both; each figure is the median.

    KERAS_BACKEND=jax python benchmarks/scan_ceiling.py --cells 100 1000
    KERAS_BACKEND=jax python benchmarks/scan_ceiling.py --cells 2048 7000    # a GPU
"""

import argparse
import os
import statistics
import time

os.environ["KERAS_BACKEND"] = "jax"  # the ceiling is JAX's; the engine is timed on the same backend
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax
import jax.numpy as jnp
import numpy as np

from gfr_keras.fitting.benchmark_cells import STIMULUS_SWEEPS_MS, cells_from_arrays, simulate
from fit_throughput import epoch_seconds

BIN_MS = 20
EPS = 1e-8
TRAIN = ("Long Square", "Ramp", "Noise 1")


def rates(params, activation, lam, current):
    """Firing rates `[sweeps, time, cells]` (1/ms) of the GFR recurrence for currents `[sweeps, time, cells]` (pA)."""
    alpha, beta = params
    b, sigma, gamma, c = activation

    def step(carry, current_t):
        h, f = carry  # h [sweeps, cells, traces] (pA), f [sweeps, cells] (1/ms)
        h = (1.0 - lam) * h + alpha * current_t[..., None] + 1000.0 * beta * f[..., None]
        x = (jnp.mean(h, axis=-1) - b) / sigma
        f = jnp.maximum(0.0, gamma * jnp.tanh(c[:, 0] ** 2 + c[:, 1] ** 2 * x))
        return (h, f), f

    sweeps, _, cells = current.shape
    start = (jnp.zeros((sweeps, cells, lam.shape[0])), jnp.zeros((sweeps, cells)))
    _, f = jax.lax.scan(step, start, jnp.swapaxes(current, 0, 1))
    return jnp.swapaxes(f, 0, 1)


def loss(params, activation, lam, current, observed):
    pred = rates(params, activation, lam, current) * BIN_MS
    return jnp.sum(pred - observed * BIN_MS * jnp.log(pred + EPS))


def adam(params, grads, moments, step, lr=1e-3, b1=0.9, b2=0.999):
    """Adam with PyTorch's epsilon placement, as the fits use."""
    m, v = moments
    m = [b1 * mi + (1 - b1) * g for mi, g in zip(m, grads)]
    v = [b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads)]
    fix1, fix2 = 1 - b1**step, 1 - b2**step
    params = [p - lr * (mi / fix1) / (jnp.sqrt(vi / fix2) + EPS) for p, mi, vi in zip(params, m, v)]
    return params, (m, v)


@jax.jit
def ceiling_epoch(params, moments, step, activation, lam, batches):
    """One published epoch: an Adam step per training batch, then the test loss."""
    for name in TRAIN:
        grads = jax.grad(loss)(params, activation, lam, *batches[name])
        step = step + 1
        params, moments = adam(params, grads, moments, step)
    return params, moments, step, loss(params, activation, lam, *batches["Noise 2"])


def population(activations):
    """Fresh alpha/beta (`[n, 0, ...]`, 0) and the true activations, as arrays."""
    from gfr_keras.neurons.timescales import decay_rates

    lam = jnp.asarray(decay_rates(BIN_MS), jnp.float32)
    cells, traces = len(activations), lam.shape[0]
    alpha = np.zeros((cells, traces), np.float32)
    alpha[:, 0] = traces
    g = [a["g"] for a in activations]
    activation = tuple(jnp.asarray(x, jnp.float32) for x in (
        [x["b"][0] for x in g], [x["max_current"][0] for x in g], [x["max_firing_rate"][0] for x in g],
        [x["poly_coeff"][0] for x in g]))
    return [jnp.asarray(alpha), jnp.zeros((cells, traces))], activation, lam


def check_against_layer(activations, current):
    """Largest |scan - GFR layer| rate (1/ms) on random alpha/beta: the scan is the model."""
    from gfr_keras.neurons.layer import GFR
    from gfr_keras.neurons.params import fresh_params

    rng = np.random.default_rng(1)
    params, activation, lam = population(activations)
    params = [params[0] + rng.normal(0, 0.5, params[0].shape), -rng.uniform(0, 2e-3, params[1].shape)]
    specs = []
    for unit, a in enumerate(activations):
        spec = fresh_params(a["g"], BIN_MS)
        spec["a"], spec["b"] = [params[0][unit].tolist()], [params[1][unit].tolist()]
        specs.append(spec)
    layer_rates = np.asarray(GFR.from_params(specs, return_sequences=True)(current))
    params = [jnp.asarray(p, jnp.float32) for p in params]
    return float(np.max(np.abs(np.asarray(rates(params, activation, lam, jnp.asarray(current))) - layer_rates)))


def timed(fn, repeats):
    jax.block_until_ready(fn())  # compile
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(fn())
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure(n_cells, repeats, engine_epochs, rounds):
    """Medians over `rounds` interleaved rounds (ceiling, then engine), so both see the same machine load."""
    arrays, activations = simulate(n_cells, (BIN_MS,), seed=0)
    batches = {name: tuple(jnp.asarray(x) for x in by_bin[BIN_MS]) for name, by_bin in arrays.items()}
    params, activation, lam = population(activations)
    moments = ([jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params])
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    cells = cells_from_arrays(arrays)
    fwd_bwd, ceiling, engine = [], [], []
    for _ in range(rounds):
        fwd_bwd.append(timed(lambda: value_and_grad(params, activation, lam, *batches["Noise 1"]), repeats))
        ceiling.append(timed(lambda: ceiling_epoch(params, moments, jnp.float32(0), activation, lam, batches), repeats))
        engine.append(epoch_seconds(cells, activations, engine_epochs))
    ratios = [e / c for e, c in zip(engine, ceiling)]
    return {"cells": n_cells, "fwd_bwd_noise_s": statistics.median(fwd_bwd), "ceiling_epoch_s": statistics.median(ceiling),
            "engine_epoch_s": statistics.median(engine), "engine_over_ceiling": statistics.median(ratios),
            "ratio_range": (min(ratios), max(ratios))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=10, help="timed calls of each compiled function (median)")
    parser.add_argument("--engine-epochs", type=int, default=6, help="engine epochs (median of 2..E)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of ceiling and engine (median)")
    args = parser.parse_args()
    import keras

    arrays, activations = simulate(20, (BIN_MS,), seed=2)
    difference = check_against_layer(activations, arrays["Noise 1"][BIN_MS][0])
    print(f"jax {jax.__version__}, Keras {keras.__version__}, devices {jax.devices()}; shapes at {BIN_MS} ms: "
          f"{ {name: (s, ms // BIN_MS) for name, (s, ms) in STIMULUS_SWEEPS_MS.items()} }")
    print(f"scan vs GFR layer, 20 cells, Noise 1: largest rate difference {difference:.2e} /ms\n")
    if not difference < 1e-4:
        raise SystemExit("the scan does not compute the GFR layer's rates; not a ceiling of the same model")
    print(f"medians of {args.rounds} interleaved rounds; engine / ceiling: median of the rounds' ratios [range]\n")
    print("| cells | fwd+bwd Noise 3 x 1,100 (ms) | ceiling epoch (ms) | engine epoch (ms) | engine / ceiling |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.cells:
        row = measure(n, args.repeats, args.engine_epochs, args.rounds)
        low, high = row["ratio_range"]
        print(f"| {n} | {row['fwd_bwd_noise_s'] * 1e3:.1f} | {row['ceiling_epoch_s'] * 1e3:.1f} | "
              f"{row['engine_epoch_s'] * 1e3:.1f} | {row['engine_over_ceiling']:.2f} [{low:.2f}-{high:.2f}] |", flush=True)


if __name__ == "__main__":
    main()

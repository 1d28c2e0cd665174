"""Forward and forward+backward time of the `GFR` layer against a plain TensorFlow loop.

The plain loop is the same maths written directly as a `tf.while_loop` with no
Keras in it: the ceiling for a per-step recurrence in TensorFlow. Both run side by
side in one process, with and without XLA (`jit_compile`), on the same inputs.

    uv run python benchmarks/cell_throughput.py            # the table in docs/benchmarks.md
    uv run python benchmarks/cell_throughput.py --units 1 10 --repeats 3

Prints a Markdown table; `--json PATH` also writes the raw numbers.
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np
import tensorflow as tf
import keras

import gfr_keras as gk


def make_layer(units, bin_size_ms, seed):
    """A population of random but plausible neurons (spec shapes, bin size 20 ms)."""
    rng = np.random.default_rng(seed)
    n = len(gk.decay_rates(bin_size_ms))
    params = []
    for _ in range(units):
        alpha = np.zeros(n)
        alpha[0] = n
        alpha += rng.normal(0, 0.1, n)
        params.append(
            {
                "a": [alpha.tolist()],
                "b": [rng.normal(0, 1e-3, n).tolist()],
                "ds": gk.decay_rates(bin_size_ms),
                "bin_size": bin_size_ms,
                "g": {
                    "max_current": [float(rng.uniform(100, 400))],
                    "max_firing_rate": [float(rng.uniform(0.05, 0.3))],
                    "poly_coeff": [rng.uniform(0.1, 1.0, 2).tolist()],
                    "b": [float(rng.uniform(0, 80))],
                    "bin_size": 20,
                },
            }
        )
    return gk.GFR.from_params(params, return_sequences=True)


def plain_loop(layer):
    """The GFR recurrence as a bare tf.while_loop over the layer's own variables."""
    cell = layer.cell
    g = cell.activation
    units, n = cell.units, cell.n_traces

    def forward(current_pa):
        batch = tf.shape(current_pa)[0]
        steps = tf.shape(current_pa)[1]
        current_tm = tf.transpose(current_pa, [1, 0, 2])
        # Variables are read once, outside the loop (XLA needs that for gradients).
        retain = 1.0 - tf.convert_to_tensor(cell.decay_rates)
        alpha, beta = tf.convert_to_tensor(cell.alpha), 1000.0 * tf.convert_to_tensor(cell.beta)
        coeff = tf.square(g.poly_coeff)
        threshold = tf.convert_to_tensor(g.threshold_pa)
        max_current = tf.convert_to_tensor(g.max_current_pa)
        max_rate = tf.convert_to_tensor(g.max_firing_rate_per_ms)

        def body(t, f, h, rates):
            h = retain * h + alpha * current_tm[t][:, :, None] + beta * f[:, :, None]
            x = (tf.reduce_mean(h, axis=-1) - threshold) / max_current
            poly = coeff[:, 0] + x * coeff[:, 1]
            f = tf.nn.relu(max_rate * tf.tanh(poly))
            return t + 1, f, h, rates.write(t, f)

        _, _, _, rates = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (
                tf.constant(0),
                tf.zeros((batch, units)),
                tf.zeros((batch, units, n)),
                tf.TensorArray(tf.float32, size=steps),
            ),
            maximum_iterations=steps,  # XLA needs a bound to differentiate the loop
        )
        return tf.transpose(rates.stack(), [1, 0, 2])

    return forward


def timed(fn, current, repeats):
    fn(current)  # trace and compile
    fn(current)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(current)
        np.asarray(out)  # wait for the result
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def benchmark(units, steps, batch, repeats, seed=0):
    layer = make_layer(units, 20, seed)
    rng = np.random.default_rng(seed)
    current = tf.constant((100 + 50 * rng.standard_normal((batch, steps, 1))).astype("float32"))
    variables = layer.trainable_variables
    plain = plain_loop(layer)

    def keras_forward(x):
        return layer(x)

    def with_backward(forward):
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(forward(x))
            grads = tape.gradient(loss, variables)
            return tf.add_n([tf.reduce_sum(g) for g in grads])

        return step

    # Same outputs, or the comparison means nothing.
    np.testing.assert_allclose(
        np.asarray(tf.function(keras_forward)(current)),
        np.asarray(tf.function(plain)(current)),
        rtol=1e-5,
        atol=1e-7,
    )
    row = {"units": units, "steps": steps, "batch": batch}
    for xla in (False, True):
        suffix = "_xla" if xla else ""
        for name, fn in (("keras", keras_forward), ("plain", plain)):
            row[f"{name}_forward{suffix}_s"] = timed(tf.function(fn, jit_compile=xla), current, repeats)
            row[f"{name}_backward{suffix}_s"] = timed(
                tf.function(with_backward(fn), jit_compile=xla), current, repeats
            )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--steps", type=int, default=1100)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the raw numbers here")
    args = parser.parse_args()

    rows = [benchmark(u, args.steps, args.batch, args.repeats) for u in args.units]
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; T = {args.steps} steps, batch {args.batch}; median of {args.repeats} (ms)\n"
    )
    print("| units | pass | Keras GFR | plain tf.while_loop | ratio | Keras GFR, XLA | plain, XLA | ratio (XLA) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for kind, label in (("forward", "forward"), ("backward", "forward+backward")):
            keras_s = row[f"keras_{kind}_s"]
            plain_s = row[f"plain_{kind}_s"]
            keras_xla = row[f"keras_{kind}_xla_s"]
            plain_xla = row[f"plain_{kind}_xla_s"]
            print(
                f"| {row['units']} | {label} | {1e3 * keras_s:.1f} | {1e3 * plain_s:.1f} | "
                f"{keras_s / plain_s:.2f} | {1e3 * keras_xla:.1f} | {1e3 * plain_xla:.1f} | "
                f"{keras_xla / plain_xla:.2f} |"
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()

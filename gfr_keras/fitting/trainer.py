"""Fit GFR neurons to processed cells, a whole population at once (spec section 6).

Every cell is one unit of one `GFR` layer (and, for the activation fit, of one
`PolynomialActivation`). Units never interact: the population loss is the SUM
of the cells' losses and Adam's update is elementwise, so each cell follows
exactly the trajectory it would follow alone. Restarts and learning-rate runs
are more copies of each cell in the same population, each with its own step
size (`UnitAdam`). A cell whose loss turns NaN is marked failed; its
neighbours are untouched.

The training loop is a `tf.function` over `keras` layers (TensorFlow backend).
"""


import time

import numpy as np
import tensorflow as tf

from gfr_keras.neurons.activation import PolynomialActivation
from gfr_keras.fitting.data import activation_pairs, stimulus_groups
from gfr_keras.neurons.layer import GFR
from gfr_keras.dataset.fits import FitStatus, failed
from gfr_keras.dataset.metrics import explained_variance_ratio
from gfr_keras.fitting.config import FitConfig
from gfr_keras.neurons.params import IDENTITY_G, fresh_params

TRAIN_STIMULI = ("Long Square", "Ramp", "Noise 1")
VALIDATION_STIMULUS = "Noise 1"  # re-uses a training stimulus, as the published protocol does
TEST_STIMULUS = "Noise 2"

class UnitAdam:
    """Adam (as in PyTorch: eps added to the bias-corrected root) with one step size per unit.

    Each variable's first axis is the unit axis. `active` zeroes the step of units
    that stopped early or failed, so their parameters stay as they were.
    """

    def __init__(self, variables, unit_lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.variables = list(variables)
        self.unit_lr = tf.constant(np.asarray(unit_lr, np.float32))
        self.active = tf.Variable(tf.ones_like(self.unit_lr), trainable=False)
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.step = tf.Variable(0.0, trainable=False)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def apply(self, gradients):
        step = self.step.assign_add(1.0)
        correction_1 = 1.0 - self.beta_1**step
        correction_2 = 1.0 - self.beta_2**step
        scale = self.unit_lr * self.active
        for variable, gradient, m, v in zip(self.variables, gradients, self.m, self.v):
            m.assign(self.beta_1 * m + (1.0 - self.beta_1) * gradient)
            v.assign(self.beta_2 * v + (1.0 - self.beta_2) * tf.square(gradient))
            unit_scale = tf.reshape(scale, [-1] + [1] * (len(variable.shape) - 1))
            update = (m / correction_1) / (tf.sqrt(v) / tf.sqrt(correction_2) + self.epsilon)
            variable.assign_sub(unit_scale * update)


def poisson_nll(pred_per_ms, obs_per_ms, bin_size_ms, eps):
    """PyTorch's `PoissonNLLLoss(log_input=False)` on counts: `pred*B - obs*B*log(pred*B + eps)`."""
    pred = pred_per_ms * bin_size_ms
    return pred - obs_per_ms * bin_size_ms * tf.math.log(pred + eps)


# -- the activation -------------------------------------------------------------


def initial_activation(current_pa, rate_per_ms, degree, rng):
    """Data-derived start of one cell's activation (as the published `activation_from_data`).

    `b` is the current of the pair just below the first whose rate exceeds 0.01/ms
    (pairs sorted by current); `c_1 = |(f_max - f_b) / (I_max - I_b)| * sigma`,
    the other coefficients Normal(0, 0.1).
    """
    order = np.argsort(current_pa, kind="stable")
    xs, ys = np.asarray(current_pa, np.float64)[order], np.asarray(rate_per_ms, np.float64)[order]
    sigma = float(np.max(np.abs(xs)))
    top = int(np.argmax(ys))
    x1 = y1 = 0.0
    for i in range(len(ys)):
        if ys[i] > 0.01:
            x1, y1 = (xs[i - 1], ys[i - 1]) if i - 1 > 0 else (xs[i], ys[i])
            break
    coeff = rng.normal(0.0, 0.1, degree + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        coeff[1 if degree >= 1 else 0] = abs((ys[top] - y1) / (xs[top] - x1) * sigma)
    return float(x1), coeff, sigma


def fit_activations(cells, activation_bin_size_ms, degree=1, config=None):
    """Fit every cell's activation g; `repeats` restarts each, keep the lowest final loss.

    Returns:
        list (one per cell) of dicts: `g` (spec dict or None), `loss`, `status`.
    """
    config = FitConfig.coerce(config)
    repeats = config.activation_repeats
    current, rate, mask = activation_pairs(cells, activation_bin_size_ms)
    n_cells = len(cells)
    g_params, reasons = [], []
    for unit in range(n_cells):
        real = mask[:, unit] > 0
        gamma = float(cells[unit]["max_firing_rate_per_ms"])
        # Seeded per cell, so a cell starts the same wherever it sits in the population.
        rng = np.random.default_rng([config.seed, int(cells[unit]["cell_id"])])
        for _ in range(repeats):
            b, coeff, sigma = initial_activation(current[real, unit], rate[real, unit], degree, rng)
            usable = real.any() and sigma > 0 and gamma > 0 and np.all(np.isfinite(coeff))
            g_params.append(
                {
                    "max_current": [sigma if usable else 1.0],
                    "max_firing_rate": [gamma if usable else 1.0],
                    "poly_coeff": [(coeff if usable else np.r_[0.0, 1.0, np.zeros(degree - 1)]).tolist()],
                    "b": [b],
                    "bin_size": activation_bin_size_ms,
                }
            )
        reasons.append(None if real.any() and gamma > 0 else "no Long Square pairs or no spikes for the activation")
    layer = PolynomialActivation.from_params(g_params)
    variables = [layer.threshold_pa, layer.poly_coeff]
    optimizer = UnitAdam(variables, np.full(n_cells * repeats, config.activation_lr))
    tile = lambda x: np.repeat(x, repeats, axis=1)  # unit order: cell-major, restarts inner
    current_t, rate_t, mask_t = (tf.constant(tile(x)) for x in (current, rate, mask))
    eps = config.eps

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            pred = layer(current_t)
            per_pair = tf.where(mask_t > 0, poisson_nll(pred, rate_t, activation_bin_size_ms, eps), 0.0)
            per_unit = tf.reduce_sum(per_pair, axis=0)
            objective = tf.reduce_sum(per_unit)  # the SUM keeps the units independent
        optimizer.apply(tape.gradient(objective, variables))
        return per_unit

    for _ in range(config.activation_epochs):
        losses = train_step()
    final = np.asarray(losses).reshape(n_cells, repeats)  # loss before the last update, as published
    fitted = layer.get_arrays()
    results = []
    for unit in range(n_cells):
        finite = np.where(np.isfinite(final[unit]), final[unit], np.inf)
        best = int(np.argmin(finite))
        index = unit * repeats + best
        if reasons[unit] is not None or not np.isfinite(final[unit, best]):
            results.append({"g": None, "loss": float("nan"), **failed(reasons[unit] or "activation loss is NaN")})
            continue
        d = int(fitted["degree"][index])
        results.append(
            {
                "g": {
                    "max_current": [float(fitted["max_current_pa"][index])],
                    "max_firing_rate": [float(fitted["max_firing_rate_per_ms"][index])],
                    "poly_coeff": [[float(c) for c in fitted["poly_coeff"][index][: d + 1]]],
                    "b": [float(fitted["threshold_pa"][index])],
                    "bin_size": activation_bin_size_ms,
                },
                "loss": float(final[unit, best]),
                "status": FitStatus.OK,
            }
        )
    return results


# -- the whole neuron ---------------------------------------------------------------


def fit_neurons(cells, activations, bin_size_ms, C=0.0, config=None, jit_compile=None, stats=None):
    """Fit alpha and beta of every cell with its activation frozen (spec section 6).

    One population holds `len(hparams)` copies of every cell, one per learning-rate
    run. Each epoch takes one Adam step per training stimulus batch (Long Square,
    Ramp, Noise 1, in a fixed shuffled order); a copy stops when its training loss
    is exactly equal `early_stop_repeats` epochs in a row. Per cell the run with the
    best validation EVR (Noise 1) is kept and its test EVR (Noise 2) reported.

    Args:
        cells: processed cells.
        activations: `fit_activations` results (same order).
        bin_size_ms: model bin size.
        C: L1 penalty on alpha and beta.
        jit_compile: XLA for the training step; default on up to 300 units
            (measured faster there on CPU, slower above).
        stats: optional dict; receives `epoch_seconds`, the wall time of every
            epoch (the first includes tracing and compilation).

    Returns:
        list (one per cell) of dicts: `params`, `val_evr`, `test_evr`,
        `train_loss`, `test_loss` (final values of the kept run),
        `train_losses`, `test_losses` (curves), `lr`, `epochs`, `status`.
    """
    config = FitConfig.coerce(config)
    runs = config.hparams
    n_cells, n_runs = len(cells), len(runs)
    groups = stimulus_groups(cells, bin_size_ms)
    results = [None] * n_cells
    for unit, activation in enumerate(activations):
        missing = [s for s in (*TRAIN_STIMULI, TEST_STIMULUS) if s not in groups or groups[s]["n_sweeps"][unit] == 0]
        if activation["status"] != FitStatus.OK:
            results[unit] = failed(activation["failure_reason"])
        elif missing:
            results[unit] = failed(f"no {', '.join(missing)} sweeps at {bin_size_ms} ms")
    params = [
        fresh_params(activations[u]["g"] if results[u] is None else IDENTITY_G, bin_size_ms)
        for _ in range(n_runs)
        for u in range(n_cells)
    ]  # unit index = run * n_cells + cell
    layer = GFR.from_params(params, return_sequences=True, freeze_activation=True)
    variables = [layer.cell.alpha, layer.cell.beta]
    unit_lr = np.repeat([r.lr for r in runs], n_cells)
    optimizer = UnitAdam(variables, unit_lr)
    eps = config.eps
    tile = lambda x: np.tile(x, (1,) * (x.ndim - 1) + (n_runs,))

    def batch(name):
        group = groups[name]
        return (
            tf.constant(tile(group["current_pa"])),
            tf.constant(tile(group["rate_per_ms"])),
            tf.constant(tile(group["mask"])),
            tf.constant(np.maximum(tile(group["n_sweeps"][None, :])[0], 1).astype(np.float32)),
            tf.constant(np.maximum(tile(group["length"][None, :])[0], 1).astype(np.float32)),
        )

    def sequence_loss(current, rate, mask, n_sweeps):
        pred = layer(current)
        per_bin = tf.where(mask > 0, poisson_nll(pred, rate, bin_size_ms, eps), 0.0)
        return tf.reduce_sum(per_bin, axis=[0, 1]) / n_sweeps  # [units]: sum over time, mean over sweeps

    if jit_compile is None:
        jit_compile = layer.units <= 300  # measured: XLA wins up to a few hundred units on CPU

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def train_step(current, rate, mask, n_sweeps):
        with tf.GradientTape() as tape:
            per_unit = sequence_loss(current, rate, mask, n_sweeps)
            penalty = C * (tf.reduce_sum(tf.abs(layer.cell.alpha), 1) + tf.reduce_sum(tf.abs(layer.cell.beta), 1))
            objective = tf.reduce_sum(per_unit + penalty)
        optimizer.apply(tape.gradient(objective, variables))
        return per_unit

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def eval_loss(current, rate, mask, n_sweeps):
        return sequence_loss(current, rate, mask, n_sweeps)

    order = list(TRAIN_STIMULI)
    np.random.default_rng(config.seed).shuffle(order)
    train_batches = [batch(name) for name in order]
    test_batch = batch(TEST_STIMULUS)
    n_units = layer.units
    train_curves = [[] for _ in range(n_units)]
    test_curves = [[] for _ in range(n_units)]
    active = np.array([results[u % n_cells] is None for u in range(n_units)])
    nan_loss = np.zeros(n_units, bool)
    epochs = np.zeros(n_units, int)
    repeats = config.early_stop_repeats
    epoch_seconds = []
    for epoch in range(max(r.epochs for r in runs)):
        epoch_started = time.perf_counter()
        for run, r in enumerate(runs):
            if epoch >= r.epochs:
                active[run * n_cells : (run + 1) * n_cells] = False
        if not active.any():
            break
        optimizer.active.assign(active.astype(np.float32))
        epoch_loss = np.zeros(n_units)
        for current, rate, mask, n_sweeps, length in train_batches:
            epoch_loss += np.asarray(train_step(current, rate, mask, n_sweeps)) / np.asarray(length)
        epoch_loss /= len(train_batches)
        current, rate, mask, n_sweeps, length = test_batch
        test_loss = np.asarray(eval_loss(current, rate, mask, n_sweeps)) / np.asarray(length)
        for unit in np.flatnonzero(active):
            train_curves[unit].append(float(epoch_loss[unit]))
            test_curves[unit].append(float(test_loss[unit]))
            epochs[unit] += 1
            if not np.isfinite(epoch_loss[unit]):
                nan_loss[unit] = True
                active[unit] = False
            elif len(train_curves[unit]) >= repeats and len(set(train_curves[unit][-repeats:])) == 1:
                active[unit] = False  # early stop: the loss no longer changes
        epoch_seconds.append(time.perf_counter() - epoch_started)
    if stats is not None:
        stats["epoch_seconds"] = epoch_seconds

    fitted = layer.get_params()
    val = groups[VALIDATION_STIMULUS]
    test = groups[TEST_STIMULUS]
    # Inside a tf.function: a cell's NaN input only makes its own prediction NaN.
    predict = tf.function(lambda current: layer(current)[0], jit_compile=jit_compile, reduce_retracing=True)
    val_pred = _predict(predict, val, n_runs)
    test_pred = _predict(predict, test, n_runs)
    for cell in range(n_cells):
        if results[cell] is not None:
            continue
        candidates = []
        for run in range(n_runs):
            unit = run * n_cells + cell
            if nan_loss[unit]:
                continue
            evr = _evr(val, val_pred, cell, unit)
            candidates.append((evr if np.isfinite(evr) else -np.inf, run, unit))
        if not candidates:
            results[cell] = failed("the training loss turned NaN in every run")
            continue
        _, run, unit = max(candidates, key=lambda c: c[0])
        results[cell] = {
            "params": fitted[unit],
            "val_evr": _evr(val, val_pred, cell, unit),
            "test_evr": _evr(test, test_pred, cell, unit),
            "train_loss": train_curves[unit][-1],
            "test_loss": test_curves[unit][-1],
            "train_losses": train_curves[unit],
            "test_losses": test_curves[unit],
            "lr": runs[run].lr,
            "epochs": int(epochs[unit]),
            "status": FitStatus.OK,
            "failure_reason": None,
        }
    return results


def _predict(predict, group, n_runs):
    """Rates for the first repeat's current of every unit: `[time, units]`."""
    first = np.tile(group["current_pa"][:1], (1, 1, n_runs))
    return np.asarray(predict(tf.constant(first)))


def _evr(group, prediction, cell, unit):
    n, length = int(group["n_sweeps"][cell]), int(group["length"][cell])
    if n < 2 or length < 2:
        return float("nan")
    trials = group["rate_per_ms"][:n, :length, cell]
    try:
        return explained_variance_ratio(trials, prediction[:length, unit])
    except ValueError:
        return float("nan")


def fit_cells(cells, bin_size_ms, activation_bin_size_ms, degree=1, C=0.0, config=None):
    """Activation, then the whole neuron, for every cell: `fit_activations` + `fit_neurons`."""
    activations = fit_activations(cells, activation_bin_size_ms, degree, config)
    results = fit_neurons(cells, activations, bin_size_ms, C, config)
    for result, activation in zip(results, activations):
        result["activation_loss"] = activation["loss"]
    return results

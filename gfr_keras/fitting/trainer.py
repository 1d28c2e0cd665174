"""Fit GFR neurons to processed cells, a whole population at once (spec section 6).

Every cell is one unit of one `GFR` layer (and, for the activation fit, of one
`PolynomialActivation`). Units never interact: the population loss is the SUM
of the cells' losses and Adam's update is elementwise, so each cell follows
exactly the trajectory it would follow alone. Restarts and learning-rate runs
are more copies of each cell in the same population, each with its own step
size (`gfr_keras.optimizers.UnitAdam`). A cell whose loss turns NaN is marked
failed; its neighbours are untouched.

Backend-agnostic (`keras.ops`): the losses are `layer.stateless_call` code and
`gfr_keras.fitting.engine.Population` compiles the step for the backend
(`jax.jit` of a stateless step under JAX, `tf.function` under TensorFlow). `fit_neurons` reads in four parts: triage (which
cells can be fitted), the population (one unit per cell and run), the epoch
loop (early stop, NaN) and run selection (best validation EVR per cell).
"""


import time

import numpy as np
from keras import ops

from gfr_keras.fitting.activation import fit_activations, poisson_nll
from gfr_keras.fitting.data import published_padding_mask, stimulus_groups
from gfr_keras.fitting.engine import Population, tensor
from gfr_keras.neurons.layer import GFR
from gfr_keras.dataset.fits import FitStatus, failed
from gfr_keras.dataset.metrics import explained_variance_ratio
from gfr_keras.fitting.config import FitConfig
from gfr_keras.neurons.params import IDENTITY_G, fresh_params
from gfr_keras.optimizers import UnitAdam

TRAIN_STIMULI = ("Long Square", "Ramp", "Noise 1")
VALIDATION_STIMULUS = "Noise 1"  # re-uses a training stimulus, as the published fitting code does
TEST_STIMULUS = "Noise 2"


def fit_neurons(cells, activations, bin_size_ms, C=0.0, config=None, jit_compile=None, start_params=None):
    """Fit alpha and beta of every cell, its activation frozen unless `config.freeze_activation` is false (spec section 6).

    One population holds `len(hparams)` copies of every cell, one per learning-rate
    run. Each epoch takes one Adam step per training stimulus batch (Long Square,
    Ramp, Noise 1, in a fixed shuffled order); a cell without sweeps of one of
    them sits that step out (as the published `get_train_test_data` trains on the
    batches a cell has). A copy stops when its training loss
    is exactly equal `early_stop_repeats` epochs in a row. Per cell the run with the
    best validation EVR (Noise 1) is kept and its test EVR (Noise 2) reported.

    Args:
        cells: processed cells.
        activations: `fit_activations` results (same order).
        bin_size_ms: model bin size.
        C: penalty weight on alpha and beta (`config.penalty`: L1, or the published L0 count).
        config: the fit config (a `FitConfig`, a dict of overrides, or None for the published one).
        jit_compile: XLA for the training step under TensorFlow; default on up to
            300 units (measured faster there on CPU, slower above). JAX always compiles with XLA.
        start_params: optional list (one per cell) of saved parameter dicts or
            None: every run of such a cell starts from them (`config.finetune`).

    Returns:
        list (one per cell) of dicts: `params`, `val_evr`, `test_evr`,
        `train_loss`, `test_loss` (final values of the kept run),
        `train_losses`, `test_losses` (curves), `lr`, `epochs`, `status`.
    """
    return fit_neurons_with_history(cells, activations, bin_size_ms, C, config, jit_compile, start_params)[0]


def fit_neurons_with_history(cells, activations, bin_size_ms, C=0.0, config=None, jit_compile=None, start_params=None):
    """`fit_neurons`, and the whole population's epoch loop: `(results, history)`.

    `history` is `train_epochs`' dict (per-unit loss curves, and `epoch_seconds`:
    the wall time of every epoch of the whole population, s, the first including
    tracing and compilation), which the per-cell results cannot carry; None when
    no cell could be fitted.
    """
    config = FitConfig.coerce(config)
    groups = stimulus_groups(cells, bin_size_ms)
    results = triage(activations, groups, bin_size_ms)
    if all(result is not None for result in results):
        return results, None  # nothing to fit (e.g. no cell of the chunk has Noise 2 sweeps: there is no test batch)
    population = build_population(activations, results, bin_size_ms, config, start_params)
    if jit_compile is None:
        jit_compile = population.layer.units <= 300  # measured under TensorFlow: XLA wins up to a few hundred units on CPU
    order = list(TRAIN_STIMULI)
    np.random.default_rng(config.seed).shuffle(order)
    order = [name for name in order if name in groups]  # a stimulus no cell of the chunk has
    n_runs = len(config.hparams)
    batches = {name: _batch(groups[name], n_runs, config.loss_on_padding) for name in (*order, TEST_STIMULUS)}
    fixed_frozen = np.array([r is not None for r in results] * n_runs)
    history = train_epochs(population, [batches[name] for name in order], batches[TEST_STIMULUS], fixed_frozen,
                           bin_size_ms, C, config, jit_compile)
    population.write_back()
    return select_runs(population, groups, history, results, config, jit_compile), history


def triage(activations, groups, bin_size_ms):
    """Per cell: None (to be fitted) or a `failed(reason)` result (no activation, missing stimuli).

    Noise 1 (validation) and Noise 2 (test) are required, as in the published
    `fit_model`; Long Square and Ramp are not (the cell trains on what it has).
    """
    results = []
    for unit, activation in enumerate(activations):
        missing = [s for s in (VALIDATION_STIMULUS, TEST_STIMULUS) if s not in groups or groups[s]["n_sweeps"][unit] == 0]
        if activation["status"] != FitStatus.OK:
            results.append(failed(activation["failure_reason"]))
        elif missing:
            results.append(failed(f"no {', '.join(missing)} sweeps at {bin_size_ms} ms"))
        else:
            results.append(None)
    return results


def build_population(activations, results, bin_size_ms, config, start_params=None):
    """One `GFR` unit per (run, cell), unit index `run * n_cells + cell`, with its `UnitAdam`.

    A cell that triage failed gets the identity activation, so it runs harmlessly (and frozen).
    A cell with `start_params` starts every run from them (finetune).
    """
    n_cells = len(activations)
    start_params = start_params or [None] * n_cells

    def start(u):
        if results[u] is not None:
            return fresh_params(IDENTITY_G, bin_size_ms)
        return start_params[u] if start_params[u] is not None else fresh_params(activations[u]["g"], bin_size_ms)

    params = [start(u) for _ in config.hparams for u in range(n_cells)]
    layer = GFR.from_params(params, return_sequences=True, freeze_activation=config.freeze_activation)
    layer.build((None, None, layer.units))  # the cell is built; this marks the RNN built for stateless_call
    unit_lr = np.repeat([r.lr for r in config.hparams], n_cells)
    return Population(layer, UnitAdam(1.0, unit_lr, epsilon=config.adam_epsilon))


def _batch(group, n_runs, loss_on_padding=False):
    """One stimulus tiled over the runs: `(tensors, length, present)`.

    `tensors` = `(current, rate, mask, n_sweeps)`; `length` (numpy, per unit) the
    bins of the unit's longest sweep; `present` (numpy bool) whether the unit has
    sweeps of this stimulus. `loss_on_padding`: the mask also covers the zero
    padding of a cell's shorter sweeps (the published loss), not the bins added
    only to line cells up in the population.
    """
    tile = lambda x: np.tile(x, (1,) * (x.ndim - 1) + (n_runs,))
    per_unit = lambda x: np.maximum(tile(x[None, :])[0], 1).astype(np.float32)
    mask = published_padding_mask(group) if loss_on_padding else group["mask"]
    return ((tensor(tile(group["current_pa"])), tensor(tile(group["rate_per_ms"])), tensor(tile(mask)),
             tensor(per_unit(group["n_sweeps"]))), per_unit(group["length"]), tile(group["n_sweeps"][None, :])[0] > 0)


#: `C * norm` per unit. The published `model.reg(p=0)` counts non-zero weights: its gradient is zero,
#: so the published penalty never changes a fit (FitConfig.penalty = "l0" reproduces that).
PENALTY_NORMS = {
    "l1": lambda w: ops.sum(ops.abs(w), axis=1),
    "l0": lambda w: ops.sum(ops.cast(ops.not_equal(w, 0.0), w.dtype), axis=1),
}


def _losses(layer, bin_size_ms, C, eps, penalty="l1"):
    """`sequence_loss(trainable, non_trainable, current, rate, mask, n_sweeps) -> [units]` and the training objective."""

    def sequence_loss(trainable, non_trainable, current, rate, mask, n_sweeps):
        pred, _ = layer.stateless_call(trainable, non_trainable, current)
        per_bin = ops.where(mask > 0, poisson_nll(pred, rate, bin_size_ms, eps), 0.0)
        return ops.sum(per_bin, axis=(0, 1)) / n_sweeps  # [units]: sum over time, mean over sweeps

    # The penalty weighs alpha and beta only (the published `reg`), also when g is trained (freeze_activation false).
    weighed = [i for i, v in enumerate(layer.trainable_variables) if v.path.split("/")[-1] in ("alpha", "beta")]

    def objective(trainable, non_trainable, *batch):
        per_unit = sequence_loss(trainable, non_trainable, *batch)
        norm = PENALTY_NORMS[penalty]
        penalty_per_unit = sum(norm(trainable[i]) for i in weighed)
        return ops.sum(per_unit + C * penalty_per_unit), per_unit  # the SUM keeps the units independent

    return sequence_loss, objective


def train_epochs(population, train_batches, test_batch, frozen, bin_size_ms, C, config, jit_compile):
    """The epoch loop: a step per training batch, the test loss, early stop and NaN per unit.

    Returns:
        dict: `train`, `test` (per-unit loss curves), `nan` (units whose loss
        turned NaN), `epochs` (per unit), `epoch_seconds` (the wall time of
        every epoch, s; the first includes tracing and compilation).
    """
    sequence_loss, objective = _losses(population.layer, bin_size_ms, C, config.eps, config.penalty)
    step = population.train_step(objective, jit_compile)
    evaluate = population.function(sequence_loss, jit_compile)
    n_units, n_cells = len(frozen), len(frozen) // len(config.hparams)
    train_curves, test_curves = [[] for _ in range(n_units)], [[] for _ in range(n_units)]
    active, nan_loss, epochs = ~frozen, np.zeros(n_units, bool), np.zeros(n_units, int)
    epoch_seconds = []
    for epoch in range(config.max_epochs):
        started = time.perf_counter()
        for run, r in enumerate(config.hparams):
            if epoch >= r.epochs:
                active[run * n_cells : (run + 1) * n_cells] = False
        if not active.any():
            break
        epoch_loss, n_batches, step_losses = np.zeros(n_units), np.zeros(n_units), []
        for tensors, _, present in train_batches:
            population.set_active(active & present)  # a cell without this stimulus sits the step out
            step_losses.append(step(*tensors))
        test_loss = evaluate(*test_batch[0])
        # Read back once the epoch's steps are queued: a read after each step would wait for it to finish.
        for per_unit, (_, length, present) in zip(step_losses, train_batches):
            epoch_loss += np.where(present, ops.convert_to_numpy(per_unit) / length, 0.0)
            n_batches += present
        epoch_loss /= np.maximum(n_batches, 1)  # per batch the cell has, as the published loop
        test_loss = ops.convert_to_numpy(test_loss) / test_batch[1]
        for unit in np.flatnonzero(active):
            train_curves[unit].append(float(epoch_loss[unit]))
            test_curves[unit].append(float(test_loss[unit]))
            epochs[unit] += 1
            if not np.isfinite(epoch_loss[unit]):
                nan_loss[unit], active[unit] = True, False
            elif len(train_curves[unit]) >= config.early_stop_repeats and len(set(train_curves[unit][-config.early_stop_repeats :])) == 1:
                active[unit] = False  # early stop: the loss no longer changes
        epoch_seconds.append(time.perf_counter() - started)
    return {"train": train_curves, "test": test_curves, "nan": nan_loss, "epochs": epochs, "epoch_seconds": epoch_seconds}


def select_runs(population, groups, history, results, config, jit_compile):
    """Per cell, the run with the best validation EVR (Noise 1), its test EVR (Noise 2) and curves."""
    runs, n_cells = config.hparams, len(results)
    layer = population.layer
    fitted = layer.get_params()
    val, test = groups[VALIDATION_STIMULUS], groups[TEST_STIMULUS]
    # Compiled, so a cell's NaN input only makes its own prediction NaN.
    predict = population.function(lambda trainable, non_trainable, current: layer.stateless_call(trainable, non_trainable, current)[0][0], jit_compile)
    val_pred, test_pred = _predict(predict, val, len(runs)), _predict(predict, test, len(runs))
    results = list(results)
    for cell in range(n_cells):
        if results[cell] is not None:
            continue
        units = [run * n_cells + cell for run in range(len(runs)) if not history["nan"][run * n_cells + cell]]
        if not units:
            results[cell] = failed("the training loss turned NaN in every run")
            continue
        scores = [_evr(val, val_pred, cell, unit) for unit in units]
        best = max(range(len(units)), key=lambda i: scores[i] if np.isfinite(scores[i]) else -np.inf)
        unit = units[best]
        results[cell] = {
            "params": fitted[unit],
            "val_evr": scores[best],
            "test_evr": _evr(test, test_pred, cell, unit),
            "train_loss": history["train"][unit][-1],
            "test_loss": history["test"][unit][-1],
            "train_losses": history["train"][unit],
            "test_losses": history["test"][unit],
            "lr": runs[unit // n_cells].lr,
            "epochs": int(history["epochs"][unit]),
            "status": FitStatus.OK,
            "failure_reason": None,
        }
    return results


def _predict(predict, group, n_runs):
    """Rates for the first repeat's current of every unit: `[time, units]`."""
    first = np.tile(group["current_pa"][:1], (1, 1, n_runs))
    return ops.convert_to_numpy(predict(tensor(first)))


def _evr(group, prediction, cell, unit):
    n, length = int(group["n_sweeps"][cell]), int(group["length"][cell])
    if n < 1 or length < 2:  # one repeat is enough (published); one bin has no variance
        return float("nan")
    trials = group["rate_per_ms"][:n, :length, cell]
    try:
        return explained_variance_ratio(trials, prediction[:length, unit])
    except ValueError:
        return float("nan")


def fit_cells(cells, bin_size_ms, activation_bin_size_ms, degree=1, C=0.0, config=None, previous=None):
    """Activation, then the whole neuron, for every cell: `fit_activations` + `fit_neurons`.

    `bin_size_ms, activation_bin_size_ms` are the configuration (ms); `config` the fit
    config (a `FitConfig`, a dict of overrides, or None for the published one).
    `previous`: optional list (one per cell) of the cell's saved successful fit
    or None (`retrain_model`, as the published `model_pipeline`): such a cell
    keeps its saved g (no activation fit) and, with `config.finetune`, starts
    from its saved alpha and beta.
    """
    config = FitConfig.coerce(config)
    previous = previous or [None] * len(cells)
    todo = [i for i, fit in enumerate(previous) if fit is None]
    fitted = iter(fit_activations([cells[i] for i in todo], activation_bin_size_ms, degree, config) if todo else [])
    activations = [
        next(fitted) if fit is None
        else {"g": fit["params"]["g"], "loss": fit.get("activation_loss", float("nan")), "status": FitStatus.OK}
        for fit in previous
    ]
    start = [fit["params"] if fit is not None and config.finetune else None for fit in previous]
    results = fit_neurons(cells, activations, bin_size_ms, C, config, start_params=start)
    for result, activation in zip(results, activations):
        result["activation_loss"] = activation["loss"]
    return results

"""The activation fit (spec section 6, first stage): every cell's g on its Long Square f-I pairs.

`repeats` restarts per cell from the data-derived start of the published
`activation_from_data`, all as units of one `PolynomialActivation`; the restart
with the lowest final loss is kept.
"""

import numpy as np
from keras import ops

from gfr_keras.dataset.fits import FitStatus, failed
from gfr_keras.fitting.config import FitConfig
from gfr_keras.fitting.data import activation_pairs
from gfr_keras.fitting.engine import Population, tensor
from gfr_keras.neurons.activation import PolynomialActivation
from gfr_keras.optimizers import UnitAdam

#: The activation fit's Poisson loss epsilon: the published `get_activations` builds
#: `PoissonNLLLoss(log_input=False)` with PyTorch's default, never the config's `eps`.
ACTIVATION_LOSS_EPS = 1e-8


def poisson_nll(pred_per_ms, obs_per_ms, bin_size_ms, eps):
    """PyTorch's `PoissonNLLLoss(log_input=False)` on counts: `pred*B - obs*B*log(pred*B + eps)`."""
    pred = pred_per_ms * bin_size_ms
    return pred - obs_per_ms * bin_size_ms * ops.log(pred + eps)


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


def _activation_starts(cells, current, rate, mask, degree, config, activation_bin_size_ms):
    """Every cell's `repeats` data-derived starts (cell-major) and, per cell, why it cannot be fitted (or None).

    A cell whose start is unusable (sigma = 0, a non-finite initial slope) gets a
    harmless placeholder start so the population runs, and a reason: the published
    fit turns NaN there and skips the cell, so it fails here, never "ok".
    """
    g_params, reasons = [], []
    for unit, cell in enumerate(cells):
        real = mask[:, unit] > 0
        gamma = float(cell["max_firing_rate_per_ms"])
        # Seeded per cell, so a cell starts the same wherever it sits in the population.
        rng = np.random.default_rng([config.seed, int(cell["cell_id"])])
        reason = None if real.any() and gamma > 0 else "no Long Square pairs or no spikes for the activation"
        for _ in range(config.activation_repeats):
            b, coeff, sigma = initial_activation(current[real, unit], rate[real, unit], degree, rng)
            if reason is None and not sigma > 0:
                reason = "activation start: every Long Square current is 0 pA (sigma = 0), as published the fit is NaN"
            elif reason is None and not np.all(np.isfinite(coeff)):
                reason = (f"activation start: the initial slope is not finite ({coeff[min(1, degree)]}: threshold and "
                          "peak pairs share one current), as published the fit is NaN")
            usable = reason is None
            g_params.append(
                {
                    "max_current": [sigma if usable else 1.0],
                    "max_firing_rate": [gamma if usable else 1.0],
                    "poly_coeff": [(coeff if usable else np.r_[0.0, 1.0, np.zeros(degree - 1)]).tolist()],
                    "b": [b if usable else 0.0],
                    "bin_size": activation_bin_size_ms,
                }
            )
        reasons.append(reason)
    return g_params, reasons


def fit_activations(cells, activation_bin_size_ms, degree=1, config=None):
    """Fit every cell's activation g; `config.activation_repeats` restarts each, keep the lowest final loss.

    `config`: the fit config (a `FitConfig`, a dict of overrides, or None for the published one).

    Returns:
        list (one per cell) of dicts: `g` (spec dict or None), `loss`, `status`.
    """
    config = FitConfig.coerce(config)
    repeats = config.activation_repeats
    current, rate, mask = activation_pairs(cells, activation_bin_size_ms)
    n_cells = len(cells)
    g_params, reasons = _activation_starts(cells, current, rate, mask, degree, config, activation_bin_size_ms)
    layer = PolynomialActivation.from_params(g_params)
    population = Population(layer, UnitAdam(1.0, np.full(n_cells * repeats, config.activation_lr), epsilon=config.adam_epsilon))
    tile = lambda x: tensor(np.repeat(x, repeats, axis=1))  # unit order: cell-major, restarts inner
    batch = [tile(x) for x in (current, rate, mask)]

    def loss(trainable, non_trainable, current_pa, rate_per_ms, real):
        pred, _ = layer.stateless_call(trainable, non_trainable, current_pa)
        per_pair = ops.where(real > 0, poisson_nll(pred, rate_per_ms, activation_bin_size_ms, ACTIVATION_LOSS_EPS), 0.0)
        per_unit = ops.sum(per_pair, axis=0)
        return ops.sum(per_unit), per_unit  # the SUM keeps the units independent

    step = population.train_step(loss, jit_compile=False)
    for _ in range(config.activation_epochs):
        losses = step(*batch)
    population.write_back()
    final = ops.convert_to_numpy(losses).reshape(n_cells, repeats)  # loss before the last update, as published
    fitted = layer.get_arrays()
    return [_best_activation(fitted, final, reasons, unit, repeats, activation_bin_size_ms) for unit in range(n_cells)]


def _best_activation(fitted, final, reasons, unit, repeats, activation_bin_size_ms):
    """The restart of `unit` with the lowest final loss, as a `fit_activations` result."""
    finite = np.where(np.isfinite(final[unit]), final[unit], np.inf)
    best = int(np.argmin(finite))
    index = unit * repeats + best
    if reasons[unit] is not None or not np.isfinite(final[unit, best]):
        return {"g": None, "loss": float("nan"), **failed(reasons[unit] or "activation loss is NaN")}
    d = int(fitted["degree"][index])
    g = {
        "max_current": [float(fitted["max_current_pa"][index])],
        "max_firing_rate": [float(fitted["max_firing_rate_per_ms"][index])],
        "poly_coeff": [[float(c) for c in fitted["poly_coeff"][index][: d + 1]]],
        "b": [float(fitted["threshold_pa"][index])],
        "bin_size": activation_bin_size_ms,
    }
    return {"g": g, "loss": float(final[unit, best]), "status": FitStatus.OK}


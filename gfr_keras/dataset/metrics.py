"""Explained variance ratio (spec section 7)."""

import numpy as np


def explained_variance(x, y):
    """`EV(x, y) = (var(x) + var(y) - var(x - y)) / (var(x) + var(y))`, population variances.

    Args:
        x, y: arrays of the same shape `[..., time]`; the variances run over the last axis.

    Returns:
        array of shape `[...]`.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    total = np.var(x, axis=-1) + np.var(y, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total - np.var(x - y, axis=-1)) / total


def explained_variance_ratio(trials, prediction):
    """How much of the explainable variance a prediction explains.

    `EV_data = mean_r EV(trial_r, PSTH)`, `EV_model = mean_r EV(trial_r, prediction)`,
    `EVR = EV_model / EV_data`, with the PSTH the mean of the repeats.

    With one repeat the PSTH is that repeat, so `EV_data = 1` and the EVR is
    `EV(trial, prediction)`: finite, as the published
    `evaluate.explained_variance_ratio` computes it (docs/fidelity.md F14).

    Args:
        trials: measured rates `[repeats, time]` (1/ms), at least one repeat.
        prediction: predicted rates `[time]` (1/ms) for the shared current.

    Returns:
        float. NaN when the trials carry no variance (e.g. no spikes at all).
    """
    trials = np.asarray(trials, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if trials.ndim != 2 or trials.shape[0] < 1:
        raise ValueError(f"trials: expected shape [repeats >= 1, time], got {list(trials.shape)}")
    if prediction.shape != trials.shape[1:]:
        raise ValueError(
            f"prediction: expected shape [{trials.shape[1]}] (the trials' time axis), "
            f"got {list(prediction.shape)}"
        )
    if not (np.all(np.isfinite(trials)) and np.all(np.isfinite(prediction))):
        raise ValueError("trials/prediction: contain NaN or infinity")
    psth = trials.mean(axis=0)
    ev_data = explained_variance(trials, psth).mean()
    ev_model = explained_variance(trials, prediction).mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(ev_model / ev_data)


def quantize_rates(rates_per_ms, bin_size_ms):
    """Rates rounded to whole spikes per bin, as the published `evaluate.quantize_prediction`.

    `count = trunc(rate * bin_size_ms + 0.5)` (round half up for the non-negative
    rates a GFR neuron gives), returned as `count / bin_size_ms` in 1/ms. The
    published function does the same in int32/float32; here the counts are exact
    and the division is float64.

    Args:
        rates_per_ms: array of predicted rates (1/ms), any shape.
        bin_size_ms: the bin width (ms) the rates are per bin of.
    """
    if not bin_size_ms > 0:
        raise ValueError(f"bin_size_ms: expected a positive bin width (ms), got {bin_size_ms!r}")
    rates = np.asarray(rates_per_ms, dtype=np.float64)
    return np.trunc(rates * bin_size_ms + 0.5) / bin_size_ms


def quantized_explained_variance_ratio(trials, prediction, bin_size_ms):
    """The EVR of a prediction rounded to whole spikes per bin.

    The published `evaluate.explained_variance_ratio(..., quantize=True)`: the
    prediction goes through `quantize_rates` (published `quantize_prediction`)
    before `explained_variance_ratio`; the trials are already whole counts.
    """
    return explained_variance_ratio(trials, quantize_rates(prediction, bin_size_ms))

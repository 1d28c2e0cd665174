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

    Args:
        trials: measured rates `[repeats, time]` (1/ms), at least two repeats.
        prediction: predicted rates `[time]` (1/ms) for the shared current.

    Returns:
        float. NaN when the trials carry no variance (e.g. no spikes at all).
    """
    trials = np.asarray(trials, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if trials.ndim != 2 or trials.shape[0] < 2:
        raise ValueError(f"trials: expected shape [repeats >= 2, time], got {list(trials.shape)}")
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

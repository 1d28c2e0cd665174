"""The published dataset's filters: which fits are good enough to be records."""

from gfr_keras.dataset.fits import FitStatus

#: A fit enters the dataset when its validation EVR is above this...
MIN_VAL_EVR = 0.5
#: ...and its final training loss below this (both as in the published dataset).
MAX_TRAIN_LOSS = 0.45


def passes_filters(fit):
    """Whether a fit (a dict with `status`, `val_evr`, `train_loss`) passes the published filters."""
    return (
        fit.get("status") == FitStatus.OK
        and fit.get("val_evr") is not None
        and fit["val_evr"] > MIN_VAL_EVR
        and fit.get("train_loss") is not None
        and fit["train_loss"] < MAX_TRAIN_LOSS
    )

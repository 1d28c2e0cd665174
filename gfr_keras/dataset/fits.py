"""Per-cell fit files (`gfr fit` writes one `<cell_id>.json` per cell): status values and reading.

A fit file holds the configuration, `status` (`FitStatus`), `failure_reason`
(why a failed fit failed, else null), the chosen parameters, EVRs and loss curves.
"""

import enum
import os

import math
import numbers

from gfr_keras.errors import InputError
from gfr_keras.io_utils import read_json, require_folder


class FitStatus(str, enum.Enum):
    """Whether a cell was fitted. A `str`, so it compares with and serializes as `"ok"`/`"failed"`."""

    OK = "ok"
    FAILED = "failed"

    def __str__(self):
        return self.value


def failed(reason):
    """The status part of a fit result for a cell that could not be fitted."""
    return {"status": FitStatus.FAILED, "failure_reason": str(reason)}


def is_ok(fit):
    return fit.get("status") == FitStatus.OK


def read_fits(folders):
    """Every fit file (`<cell_id>.json`) in `folders`, each dict with its `_path`.

    Raises:
        MissingInputError (a FileNotFoundError) naming a folder that does not exist;
        InputError (a ValueError) naming a file that is not valid JSON or not a fit
        (`_check_fit`).
    """
    fits = []
    for folder in folders:
        require_folder(folder, "folders")
        for name in sorted(os.listdir(folder)):
            if not (name.endswith(".json") and name[:-5].isdigit()):
                continue
            path = os.path.join(folder, name)
            fit = read_json(path)
            _check_fit(fit, path)
            fit["_path"] = path
            fits.append(fit)
    return fits


_METRICS = ("val_evr", "test_evr", "train_loss", "test_loss")


def _check_fit(fit, path):
    """The fields later stages rely on: a JSON object with an int64 `cell_id`, integer bin sizes,
    a `status` string, and metrics that are numbers or null. (The parameters are checked as a
    dataset record when a fit is kept.)"""
    if not isinstance(fit, dict):
        raise InputError(f"{path}: expected a JSON object (one fit), got {type(fit).__name__}", path=path)
    for key in ("cell_id", "bin_size", "actv_bin_size"):
        value = fit.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            shown = repr(value) if len(repr(value)) < 40 else repr(value)[:20] + "..."
            raise InputError(f"{path}: field '{key}': expected a non-negative integer, got {shown}", path=path, field=key)
    # Fits of older versions carry other failure statuses ("nan loss"): any text; only "ok" counts as fitted.
    if not isinstance(fit.get("status"), str):
        raise InputError(f"{path}: field 'status': expected a string such as 'ok', got {fit.get('status')!r}", path=path,
                         field="status")
    for key in _METRICS:
        value = fit.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isinf(value)):
            raise InputError(f"{path}: field '{key}': expected a finite number or null, got {value!r}", path=path,
                             field=key)

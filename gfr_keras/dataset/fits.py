"""Per-cell fit files (`gfr fit` writes one `<cell_id>.json` per cell): status values and reading.

A fit file holds the configuration, `status` (`FitStatus`), `failure_reason`
(why a failed fit failed, else null), the chosen parameters, EVRs and loss curves.
"""

import enum
import os

from gfr_keras.errors import MissingInputError
from gfr_keras.io_utils import read_json


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
        FileNotFoundError naming a folder that does not exist; ValueError naming a
        file that is not valid JSON.
    """
    fits = []
    for folder in folders:
        if not os.path.isdir(folder):
            raise MissingInputError(f"folders: {folder} is not a folder", parameter="folders", path=folder)
        for name in sorted(os.listdir(folder)):
            if not (name.endswith(".json") and name[:-5].isdigit()):
                continue
            path = os.path.join(folder, name)
            fit = read_json(path)
            fit["_path"] = path
            fits.append(fit)
    return fits

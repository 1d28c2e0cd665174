"""Atomic file writes (a temp file in the target folder, then a rename), reading JSON and `.keras`
files with errors that name the file, checks that an input path exists, and the failure log of pipelines."""

import csv
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager

from gfr_keras.errors import InputError, MissingInputError, OutputError


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A crash or an exception leaves `path` as it was (never half-written).
    """
    path = os.fspath(path)
    if os.path.isdir(path):  # else the rename fails naming the temp file
        raise OutputError(f"{path} is a folder; expected the path of a file to write", path=path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_json(path, error_class=InputError):
    """Parse a JSON file (UTF-8).

    Raises:
        `error_class` (an `InputError` unless given) naming the file for malformed JSON (with its
        line and column), bytes that are not UTF-8, nesting too deep for Python's parser, or an
        integer too long to convert; OSError (with its `filename`) for a file that cannot be opened.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise error_class(f"{path}: not valid JSON ({error})", path=path) from None
        except UnicodeDecodeError as error:
            raise error_class(
                f"{path}: not a UTF-8 text file (byte {error.object[error.start]:#04x} at offset {error.start})",
                path=path, reason="not_utf8",
            ) from None
        except RecursionError:
            raise error_class(f"{path}: nested too deeply to read (thousands of levels)", path=path, reason="too_deep") from None
        except ValueError as error:  # e.g. an integer of more than 4300 digits
            raise error_class(f"{path}: cannot read it as JSON ({error})", path=path) from None


def read_json_if_present(path, error_class=InputError):
    """`read_json(path, error_class)`, or None when there is no file at `path` (an optional record)."""
    if not os.path.exists(path):
        return None
    return read_json(path, error_class)


def require_path(path, parameter, problem="does not exist", present=os.path.exists):
    """`path` (str) when `present(path)` (something exists there), else a `MissingInputError`
    `"<parameter>: <path> <problem>"` naming the parameter that gave it."""
    path = os.fspath(path)
    if not present(path):
        raise MissingInputError(f"{parameter}: {path} {problem}", parameter=parameter, path=path)
    return path


def require_folder(folder, parameter):
    """`folder` (str) when it is a folder, else a `MissingInputError` `"<parameter>: <folder> is not a folder"`."""
    return require_path(folder, parameter, "is not a folder", os.path.isdir)


def load_keras_file(path, parameter=None, compile=False):
    """A saved Keras model (`.keras`); a missing file is a `MissingInputError`, a file Keras cannot
    read (corrupt, truncated, another format) an `InputError` that says so, both naming the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingInputError(f"{path} does not exist (or is not a file)", parameter=parameter, path=path)
    import zipfile

    import keras

    try:
        return keras.saving.load_model(path, compile=compile)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        # Keras's own text for a damaged zip says "File not found" of a file that exists: not shown.
        raise InputError(
            f"{path}: cannot be read as a saved Keras model (corrupt, truncated or not a .keras file; "
            f"Keras raised {type(error).__name__})", parameter=parameter, path=path, reason="unreadable_model",
        ) from None


def nan_to_none(value):
    """`value` with every float NaN (in nested dicts, lists and tuples) replaced by None.

    NaN is not JSON; every JSON this project writes says `null` instead.
    """
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: nan_to_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(item) for item in value]
    return value


def to_json(obj, **json_kwargs):
    """Strict JSON text (`null` for NaN, infinity refused)."""
    return json.dumps(nan_to_none(obj), allow_nan=False, **json_kwargs)


def write_json_atomic(obj, path, **json_kwargs):
    """Write `obj` as strict JSON (`null` for NaN, infinity refused) to `path` atomically."""
    text = to_json(obj, **json_kwargs)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def save_figure_atomic(figure, path, dpi=100):
    """Save a matplotlib figure as PNG atomically (readers never see half a file)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)


def write_csv_atomic(path, header, rows):
    """Write a CSV file (a header row, then `rows`) atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)


class FailureLog:
    """`failures.csv` of a pipeline over cells: `cell_id,reason`, rewritten atomically on every change.

    A rerun reads the previous failures; a cell that succeeds later is removed.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.reasons = {}
        if os.path.exists(self.path):
            with open(self.path, newline="") as handle:
                self.reasons = {int(row["cell_id"]): row["reason"] for row in csv.DictReader(handle)}

    def add(self, cell_id, reason):
        self.reasons[int(cell_id)] = str(reason)
        self._write()

    def clear(self, cell_id):
        if self.reasons.pop(int(cell_id), None) is not None:
            self._write()

    def _write(self):
        write_csv_atomic(self.path, ["cell_id", "reason"], sorted(self.reasons.items()))


def remove_stale_temp_files(folder):
    """Temp files of a killed run (`atomic_path` names them `.<target>.<random>.tmp`)."""
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp"):
            os.remove(os.path.join(folder, name))


def file_sha256(path):
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Property-based tests (Hypothesis): whatever a user loads or types gets a result or a clean error.

Generated inputs: dataset files (valid records, records with one field replaced by a hostile
value, other JSON, undecodable bytes, deep nesting), fit folders through `gfr build-dataset`,
processed-cell HDF5 files (bad shapes, NaN, negative rates) and the numeric options of every
stage. Each property asserts: a result, or a `GFRError` (or argparse's error) that names the
input; never another exception; nothing already written changed.

`pytest tests/test_fuzz.py --hypothesis-show-statistics` prints how many cases each ran.
"""

import copy
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gfr_keras.dataset import read_dataset
from gfr_keras.ephys.processed import read_processed_cell, write_processed_cell
from gfr_keras.errors import GFRError
from training.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
RECORDS = json.loads((ROOT / "gfr_keras" / "resources" / "reference_neurons.json").read_text())
# Derandomized: the same cases every run (a suite that cannot flake); no example database in the tree.
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(max_examples):
    return settings(FUZZ, max_examples=max_examples)

# -- hostile values ---------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from([
    "<img src=x onerror=alert(1)>", "<!--", "</script><script>alert(1)</script>", "\u202e\u0000\ud7ff", "😀" * 50,
    "", " ", "NaN", "1e309", "-0",
]) | st.text(max_size=30)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.sampled_from([10**300, -(2**63), 2**63, 2**64 + 1])
    | st.floats(allow_nan=True, allow_infinity=True) | HOSTILE_TEXT
)
HOSTILE = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
                       max_leaves=8)


def _paths(value, prefix=()):
    """Every path (tuple of keys and indices) into a nested record."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*prefix, key))


def _replaced(record, path, value):
    record = copy.deepcopy(record)
    if not path:
        return value
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return record


@st.composite
def records(draw):
    """A reference record, as it is or with one field (at any depth) replaced or removed."""
    record = draw(st.sampled_from(RECORDS))
    change = draw(st.sampled_from(["none", "replace", "remove"]))
    if change == "none":
        return copy.deepcopy(record)
    path = draw(st.sampled_from(list(_paths(record))[1:]))
    if change == "replace":
        return _replaced(record, path, draw(HOSTILE))
    record = copy.deepcopy(record)
    holder = record
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    return record


def _json_bytes(value):
    return json.dumps(value, allow_nan=True).encode("utf-8")


DATASET_FILES = st.one_of(
    st.lists(records(), max_size=3).map(_json_bytes),
    HOSTILE.map(_json_bytes),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=50_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.sampled_from([b"", b"[", b'\xff\xfe[]', b"[1e999999]", b"[" + b"9" * 5000 + b"]"]),
)


# -- properties -------------------------------------------------------------------------------

def _hashes(folder):
    """Content hash of every file under `folder`."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(Path(folder).rglob("*")) if path.is_file()
    }


@fuzz(150)
@given(content=DATASET_FILES)
def test_a_dataset_file_is_read_or_refused_naming_it(content):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "dataset.json")
        Path(path).write_bytes(content)
        try:
            result = read_dataset(path)
        except GFRError as error:
            event(f"refused: {type(error).__name__}")
            assert path in str(error), str(error)
            assert error.path == path or path in str(error)
            return
        event("read")
        assert isinstance(result, list) and all(isinstance(r, dict) for r in result)


FIT_FIELDS = {"status": "ok", "failure_reason": None, "species": "Mus musculus", "degree": 1, "C": 0.0, "config": "default"}


@st.composite
def fit_files(draw):
    """A fit file: a reference record turned into a fit, possibly with one field broken, or other bytes."""
    kind = draw(st.sampled_from(["fit", "fit", "other"]))
    if kind == "other":
        return draw(DATASET_FILES)
    record = draw(records())
    if not isinstance(record, dict):
        return _json_bytes(record)
    fit = {**FIT_FIELDS, **{k: v for k, v in record.items() if k != "cre-line"}, "cre_line": record.get("cre-line")}
    if draw(st.booleans()):
        fit[draw(st.sampled_from(sorted(fit)))] = draw(HOSTILE)
    return _json_bytes(fit)


@fuzz(60)
@given(files=st.lists(fit_files(), min_size=1, max_size=3))
def test_build_dataset_of_fuzzed_fits_writes_or_says_which_file(files):
    with tempfile.TemporaryDirectory() as folder:
        fits, out = Path(folder, "fits"), Path(folder, "out")
        fits.mkdir()
        out.mkdir()
        for index, content in enumerate(files):
            (fits / f"{100 + index}.json").write_bytes(content)
        (out / "dataset.json").write_text("[]")  # a dataset written before: changed only by a success
        (out / "notes.txt").write_text("mine")
        before = _hashes(out)
        status = _run_quietly(["build-dataset", "--fits", str(fits), "--out", str(out / "dataset.json")])
        event(f"exit {status}")
        assert status in (0, 2), f"exit {status}: a bug"
        after = _hashes(out)
        assert after["notes.txt"] == before["notes.txt"]
        if status == 2:
            assert after == before
        else:
            read_dataset(out / "dataset.json")  # what was written reads back


def _run_quietly(argv):
    """`main(argv)` with stdout and stderr discarded (Hypothesis runs without capsys)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        status = main(argv)
    if status == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gfr build-dataset: error: "), err.getvalue()
        assert "/fits" in lines[0] or "--fits" in lines[0], lines[0]  # names the fit file or the folder
    return status


# -- processed-cell files ---------------------------------------------------------------------

def _good_cell():
    bins = {10: 8, 20: 4, 50: 2, 100: 1}
    sweep = lambda name: {
        "stimulus_name": name, "sampling_rate_hz": 50_000.0,
        "current_pa": {b: np.full(n, 100.0) for b, n in bins.items()},
        "rate_per_ms": {b: np.full(n, 0.01) for b, n in bins.items()},
    }
    return {"cell_id": 7, "max_firing_rate_per_ms": 0.2, "sampling_rate_hz": 50_000.0, "species": "Mus musculus",
            "cre_line": "<b>x</b>", "sweeps": {1: sweep("Long Square"), 2: sweep("Noise 1"), 3: sweep("Noise 2")}}


ARRAYS = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=6).map(np.array),
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=4).map(lambda v: np.array(v).reshape(1, -1)),
    st.lists(st.integers(-5, 5), max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
    st.just(np.array([b"text"])),
)


@st.composite
def processed_files(draw):
    """`(writer of one HDF5 file, whether it was changed)`: a good cell or one with a broken part."""
    cell = _good_cell()
    change = draw(st.sampled_from(["none", "array", "negative_rate", "root", "sweep_attr", "drop", "not_hdf5"]))
    sweep = cell["sweeps"][draw(st.sampled_from([1, 2, 3]))]
    kind, bin_size = draw(st.sampled_from(["current_pa", "rate_per_ms"])), draw(st.sampled_from([10, 20, 50, 100]))
    if change == "array":
        sweep[kind][bin_size] = draw(ARRAYS)
    elif change == "negative_rate":
        sweep["rate_per_ms"][bin_size] = sweep["rate_per_ms"][bin_size] - draw(st.floats(0.02, 1e6))
    elif change == "root":
        cell[draw(st.sampled_from(["cell_id", "max_firing_rate_per_ms", "sampling_rate_hz"]))] = draw(
            st.sampled_from([-1, -0.5, float("nan"), float("inf"), 0, "x", 2**63 - 1]))
    elif change == "sweep_attr":
        sweep["sampling_rate_hz"] = draw(st.sampled_from([-50_000.0, 0.0, float("nan"), float("inf")]))
    elif change == "drop":
        del sweep[kind][bin_size]
    return cell, change


def _write_raw(cell, path):
    """Like write_processed_cell, but writes whatever it is given (no conversion to float64)."""
    with h5py.File(path, "w") as handle:
        for key in ("cell_id", "max_firing_rate_per_ms", "sampling_rate_hz", "species", "cre_line"):
            handle.attrs[key] = cell[key]
        handle.attrs["format_version"] = 2
        for number, sweep in cell["sweeps"].items():
            group = handle.create_group(f"sweeps/{number}")
            group.attrs["stimulus_name"] = sweep["stimulus_name"]
            group.attrs["sampling_rate_hz"] = sweep["sampling_rate_hz"]
            for kind in ("current_pa", "rate_per_ms"):
                for bin_size, values in sweep[kind].items():
                    group.create_dataset(f"{kind}_{bin_size}ms", data=values)


@fuzz(120)
@given(case=processed_files())
def test_a_processed_file_is_read_or_refused_naming_it(case):
    cell, change = case
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "7.h5")
        if change == "not_hdf5":
            Path(path).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 20)
        else:
            _write_raw(cell, path)
        try:
            read = read_processed_cell(path)
        except GFRError as error:
            event(f"{change}: refused")
            assert path in str(error), str(error)
            return
        event(f"{change}: read")
        assert change not in ("negative_rate", "not_hdf5", "sweep_attr"), f"{change}: read as if valid"
        for sweep in read["sweeps"].values():
            for rates in sweep["rate_per_ms"].values():
                assert np.all(np.isfinite(rates)) and np.all(rates >= 0)
            for currents in sweep["current_pa"].values():
                assert np.all(np.isfinite(currents))


def test_a_good_processed_file_reads_back():
    """The property above rejects broken files; this one file is the control: it is accepted."""
    with tempfile.TemporaryDirectory() as folder:
        write_processed_cell(_good_cell(), os.path.join(folder, "7.h5"))
        assert read_processed_cell(os.path.join(folder, "7.h5"))["cre_line"] == "<b>x</b>"


# -- numeric options of every stage -----------------------------------------------------------

PARSER = build_parser()
NUMERIC = [
    (stage, action)
    for stage, sub in next(a for a in PARSER._actions if isinstance(getattr(a, "choices", None), dict)).choices.items()
    for action in sub._actions
    if action.option_strings and callable(action.type) and action.type not in (str,)
]
REQUIRED = {"fit": ["--processed", "p", "--out", "o"], "train-network": ["--out", "o"], "synth-cells": ["--out", "o"],
            "preprocess": ["--out", "o"], "build-dataset": ["--fits", "f", "--out", "o"], "report": ["--dataset", "d", "--out", "o"],
            "export": ["lmnist"], "summary": ["folder"], "demo": []}
OPTION_TEXT = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "0", "-0", "1.5", "0x10", "", " 3", "1_000", str(10**400)]),
    st.text(max_size=8),
)


def test_every_numeric_option_is_fuzzed():
    """The property below covers every option with a `type=` of every stage (none is float or int)."""
    assert len(NUMERIC) >= 20
    assert all(action.type not in (int, float) for _, action in NUMERIC), "an unchecked int/float option"


@fuzz(400)
@given(option=st.sampled_from(NUMERIC), text=OPTION_TEXT)
def test_a_numeric_option_is_parsed_in_range_or_refused_naming_it(option, text):
    import contextlib
    import io

    stage, action = option
    flag = action.option_strings[0]
    argv = [stage, *REQUIRED[stage], f"{flag}={text}"]
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            args = PARSER.parse_args(argv)
        except SystemExit as exit:
            event("refused")
            assert exit.code == 2
            assert f"argument {flag}" in err.getvalue() or f"argument {'/'.join(action.option_strings)}" in err.getvalue()
            return
    event("parsed")
    values = getattr(args, action.dest)
    for value in values if isinstance(values, list) else [values]:
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        assert abs(value) < 2**63 if isinstance(value, int) else math.isfinite(value)
        assert action.type(str(value)) == value  # the parsed value passes its own check again

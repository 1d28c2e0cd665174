"""What a user gets for bad input (one line, exit 2) and for a bug (a traceback file, exit 1).

docs/errors.md lists each kind of bad input with the test here that covers it.
"""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from fixtures import NO_NOISE_2
from gfr_keras.errors import GFRError, InputError, InvalidParameterError, MissingInputError
from gfr_keras.io_utils import read_json_if_present, require_folder, require_path
from training.cli import STAGES, build_parser, main
from training.error_report import in_flag_terms, option_flags, report

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "gfr_keras" / "resources" / "reference_neurons.json"
FLAG = re.compile(r"(?<![\w-])--[a-z]")


# -- the library speaks its own API ------------------------------------------------------

def flag_mentions(source, name="<source>"):
    """`file:line: text` of every string naming a `--flag` inside a raise or an error's construction."""
    found = []
    for node in ast.walk(ast.parse(source)):
        called = getattr(getattr(node, "func", None), "id", None) or getattr(getattr(node, "func", None), "attr", "")
        if isinstance(node, ast.Raise) and node.exc is not None:
            expression = node.exc
        elif isinstance(node, ast.Call) and called.endswith(("Error", "Exception")):
            expression = node
        else:
            continue
        for constant in ast.walk(expression):
            if isinstance(constant, ast.Constant) and isinstance(constant.value, str) and FLAG.search(constant.value):
                found.append(f"{name}:{node.lineno}: {constant.value!r}")
    return found


def test_the_flag_check_finds_flags_in_raises_and_built_errors():
    assert flag_mentions('raise ValueError(f"--chunk-size: expected {x}")')
    assert flag_mentions('error = KeyError("pass --download")')
    assert not flag_mentions('raise ValueError(f"chunk_size: expected {x}")')
    assert not flag_mentions('print("--out")')


def test_no_error_raised_in_the_library_names_a_command_line_flag():
    found = []
    for path in sorted((ROOT / "gfr_keras").rglob("*.py")):
        found += flag_mentions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "library errors must name parameters, not flags (training/ maps them):\n" + "\n".join(found)


# -- the command maps parameters to its flags ----------------------------------------------

def _stage(name):
    """(the stage's parser, its flags, its FLAGS overrides)."""
    parser = build_parser()
    stage = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)).choices[name]
    module = importlib.import_module(f"training.{name.replace('-', '_')}")
    return stage, option_flags(stage), getattr(module, "FLAGS", {})


@pytest.mark.parametrize("name", [name for name, _, _ in STAGES])
def test_every_flag_override_names_a_flag_of_its_stage(name):
    _, flags, overrides = _stage(name)
    assert set(overrides.values()) <= flags, f"{name}: FLAGS names flags the stage does not have"


@pytest.mark.parametrize("stage, error, expected", [
    ("fit", InvalidParameterError("chunk_size: expected an integer >= 1, got 0", parameter="chunk_size"),
     "--chunk-size: expected an integer >= 1, got 0"),
    ("fit", InvalidParameterError("bin_size_ms/activation_bin_size_ms: expected one of [[20, 20]], got [20, 5]",
                                  parameter="bin_size_ms"),
     "--bin-size/--activation-bin-size: expected one of [[20, 20]], got [20, 5]"),
    ("fit", MissingInputError("processed_dir: p is not a folder", parameter="processed_dir", path="p"),
     "--processed: p is not a folder"),
    ("fit", InputError("f.json: not valid JSON", parameter="name_or_path", path="f.json"), "--config: f.json: not valid JSON"),
    ("train-network", InvalidParameterError(
        "dataset: 3 cells at configuration (20, 20), fewer than the 4 neurons asked for (units); "
        "sample with replacement (replace=True) or use a larger dataset", parameter="units"),
     "--n-nodes: dataset: 3 cells at configuration (20, 20), fewer than the 4 neurons asked for (--n-nodes); "
     "sample with replacement (--sample-with-replacement) or use a larger dataset"),
    ("fit", InvalidParameterError("records: expected at least one", parameter="records"), "records: expected at least one"),
    ("fit", InputError("x.h5: corrupt", path="x.h5"), "x.h5: corrupt"),
])
def test_library_parameters_are_shown_as_the_stage_flags(stage, error, expected):
    _, flags, overrides = _stage(stage)
    assert in_flag_terms(error, overrides, flags) == expected


# -- one line, exit 2, for each kind of user error -----------------------------------------

def _one_line_error(capsys, argv, status=2):
    """Run `gfr argv` in this process; its stderr's `error:` line (exactly one, no traceback)."""
    assert main([str(a) for a in argv]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if ": error: " in line or "internal error" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("argv, flag", [
    (["train-network", "--lr", "nan"], "--lr"),
    (["train-network", "--lr", "-1"], "--lr"),
    (["train-network", "--limit", "0"], "--limit"),
    (["train-network", "--limit", "-5"], "--limit"),
    (["train-network", "--epochs", "0"], "--epochs"),
    (["train-network", "--beta-lr-scale", "0"], "--beta-lr-scale"),
    (["train-network", "--seed", "-1"], "--seed"),
    (["fit", "--processed", "p", "--C", "nan"], "--C"),
    (["fit", "--processed", "p", "--degree", "0"], "--degree"),
    (["fit", "--processed", "p", "--degree", "-1"], "--degree"),
    (["fit", "--processed", "p", "--chunk-size", "0"], "--chunk-size"),
    (["fit", "--processed", "p", "--plot-cells", str(10**300)], "--plot-cells"),
    (["synth-cells", "--sampling-rate", "0"], "--sampling-rate"),
    (["synth-cells", "--sampling-rate", "1"], "--sampling-rate"),
    (["synth-cells", "--n", "1.5"], "--n"),
    (["preprocess", "--workers", "0"], "--workers"),
    (["export", "gfr-neurons", "--cell-ids", "-3"], "--cell-ids"),
])
def test_numeric_options_are_checked_when_parsed(argv, flag, tmp_path, capsys):
    line = _one_line_error(capsys, [*argv, "--out", tmp_path / "out"])
    assert f"argument {flag}: expected" in line
    assert not (tmp_path / "out").exists()


def test_a_sampling_rate_the_model_cannot_use_is_refused_before_simulating(tmp_path, capsys):
    line = _one_line_error(capsys, ["synth-cells", "--sampling-rate", "15000", "--out", tmp_path / "bank"])
    assert "--sampling-rate: the spiking model needs at least 20001 Hz, got 15000" in line
    assert not (tmp_path / "bank").exists()


def test_a_missing_folder_is_named_by_its_flag(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    line = _one_line_error(capsys, ["fit", "--processed", missing, "--bin-size", "20", "--activation-bin-size", "20",
                                    "--out", tmp_path / "fits"])
    assert line == f"gfr fit: error: --processed: {missing} is not a folder"


def test_a_folder_where_a_file_is_expected(tmp_path, capsys):
    line = _one_line_error(capsys, ["fit", "--processed", tmp_path, "--bin-size", "20", "--activation-bin-size", "20",
                                    "--config", tmp_path, "--out", tmp_path / "fits"])
    assert line == f"gfr fit: error: {tmp_path}: is a folder, expected a file"
    line = _one_line_error(capsys, ["build-dataset", "--fits", tmp_path, "--out", tmp_path])
    assert line == f"gfr build-dataset: error: {tmp_path} is a folder; expected the path of a file to write"


def test_a_file_where_a_folder_is_expected(tmp_path, capsys):
    a_file = tmp_path / "README.md"
    a_file.write_text("not a folder")
    line = _one_line_error(capsys, ["demo", "--out", a_file])
    assert line.startswith(f"gfr demo: error: {a_file}: exists, and is not what is wanted there")
    assert a_file.read_text() == "not a folder"


@pytest.mark.parametrize("error, expected", [
    (PermissionError(13, "Permission denied", "/srv/out/x.json"), "/srv/out/x.json: permission denied"),
    (NotADirectoryError(20, "Not a directory", "a_file/x"), "a_file/x: a part of this path is not a folder"),
    (OSError(28, "No space left on device", "out/x.h5"), "out/x.h5: no space left on device"),
    (OverflowError("int too large to convert to float"), "a number too large: int too large to convert to float"),
    (RecursionError("maximum recursion depth exceeded"), "the input is nested too deeply to read (thousands of levels)"),
])
def test_os_and_value_errors_end_in_one_line(error, expected, capsys):
    """Permissions cannot be denied to root (the test machine), so these go through `report` directly."""
    assert report(error, "fit", ["fit"]) == 2
    assert capsys.readouterr().err == f"gfr fit: error: {expected}\n"


# -- files that are not what they claim ----------------------------------------------------

def _reference_record(**changes):
    return {**json.loads(REFERENCE.read_text())[0], **changes}


@pytest.mark.parametrize("content, expected", [
    (b'\xff\xfe[{"cell_id": 1}]', "not a UTF-8 text file (byte 0xff at offset 0)"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to read"),
    (b"[]", "holds no records (an empty list)"),
    (b"{}", "expected a JSON list of records, got dict"),
    (("[" + json.dumps(_reference_record(cell_id=0)).replace('"cell_id": 0', '"cell_id": ' + "9" * 300) + "]").encode(),
     "field 'cell_id': expected a non-negative integer below 2**63"),
    (b'[{"cell_id": 1, "cre-line": "<img src=x onerror=alert(1)>"}]', "missing field(s)"),
])
def test_a_bad_dataset_file_is_named(content, expected, tmp_path, capsys):
    dataset = tmp_path / "dataset.json"
    dataset.write_bytes(content)
    line = _one_line_error(capsys, ["demo", "--dataset", dataset, "--out", tmp_path / "out"])
    assert str(dataset) in line and expected in line
    assert not (tmp_path / "out").exists()


def test_an_empty_manifest_says_so(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text("")
    line = _one_line_error(capsys, ["preprocess", "--manifest", manifest, "--out", tmp_path / "out"])
    assert line == f"gfr preprocess: error: --manifest: {manifest} is empty; expected a CellTypesCache manifest (JSON)"
    manifest.write_text("[1, 2]")
    line = _one_line_error(capsys, ["preprocess", "--manifest", manifest, "--out", tmp_path / "out"])
    assert "is not a CellTypesCache manifest" in line


def test_a_corrupt_saved_model_is_called_unreadable_not_missing(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(b"PK\x03\x04 truncated")
    line = _one_line_error(capsys, ["export", "lmnist", "--run", run, "--out", tmp_path / "sm"])
    assert f"--run: {run / 'best.keras'}: cannot be read as a saved Keras model (corrupt" in line
    assert "not found" not in line.lower()


def test_plot_cells_are_checked_before_the_fit(tmp_path, capsys):
    processed = tmp_path / "processed"
    processed.mkdir()
    line = _one_line_error(capsys, ["fit", "--processed", processed, "--bin-size", "20", "--activation-bin-size", "20",
                                    "--out", tmp_path / "fits", "--plot-cells", "42"])
    assert line == f"gfr fit: error: --plot-cells: no processed file for cell(s) [42] in {processed}"
    assert not (tmp_path / "fits").exists()


def test_an_unknown_cell_is_named_with_its_flag(tmp_path, capsys):
    line = _one_line_error(capsys, ["export", "gfr-neurons", "--dataset", REFERENCE, "--cell-ids", "42",
                                    "--out", tmp_path / "sm"])
    assert line.startswith("gfr export: error: --cell-ids: cell_id 42 is not in the dataset for configuration")


# -- preprocess counts failures by kind, and names failures.csv only when it wrote one -----

def test_preprocess_counts_failures_by_kind(bank, broken_bank, tmp_path, capsys):
    good = json.loads((bank / "cells.json").read_text())[0]["specimen__id"]
    ids = tmp_path / "ids.csv"
    ids.write_text(f"{good}\n")
    assert main(["preprocess", "--manifest", str(bank / "manifest.json"), "--out", str(tmp_path / "a"),
                 "--cell-ids", str(ids), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 failed\n" in out and "failures.csv" not in out and not (tmp_path / "a" / "failures.csv").exists()
    ids.write_text(f"{good}\n{NO_NOISE_2}\n")
    assert main(["preprocess", "--manifest", str(broken_bank / "manifest.json"), "--out", str(tmp_path / "b"),
                 "--cell-ids", str(ids), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert f"1 failed (see {tmp_path / 'b' / 'failures.csv'})" in out
    assert "without Noise 1 or Noise 2: 1" in out


# -- bugs and interrupts --------------------------------------------------------------------

def test_a_bug_writes_its_traceback_to_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def broken(args):
        return {}["no such key"]

    monkeypatch.setattr("training.summary.run", broken)
    line = _one_line_error(capsys, ["summary", tmp_path], status=1)
    assert "internal error (a bug): KeyError" in line and "please report" in line
    (path,) = (tmp_path / "cache" / "gfr").glob("gfr-crash-*.txt")
    assert str(path) in line
    text = path.read_text()
    assert text.startswith(f"command: gfr summary {tmp_path}\n") and "Traceback" in text and "in broken" in text


def test_an_interrupt_is_one_line_and_130(tmp_path, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("training.summary.run", interrupted)
    assert main(["summary", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "gfr summary: interrupted\n"


def test_every_typed_error_is_a_gfr_error_and_its_builtin():
    assert issubclass(MissingInputError, FileNotFoundError) and issubclass(InvalidParameterError, ValueError)
    error = MissingInputError("p: missing", parameter="p", path="x")
    assert isinstance(error, GFRError) and error.details() == {"parameter": "p", "path": "x"}


def test_input_path_checks_name_the_parameter_and_the_path(tmp_path):
    """The one check the library's functions share for a path they are given (io_utils)."""
    config = tmp_path / "config.json"
    config.write_text('{"seed": 1}')
    assert require_path(config, "name_or_path") == str(config) and require_folder(tmp_path, "fits_dirs") == str(tmp_path)
    with pytest.raises(MissingInputError) as raised:
        require_folder(config, "fits_dirs")
    assert str(raised.value) == f"fits_dirs: {config} is not a folder" and raised.value.details() == {
        "parameter": "fits_dirs", "path": str(config)}
    with pytest.raises(MissingInputError, match=r"^name_or_path: .*absent\.json is neither a file nor a packaged one$"):
        require_path(tmp_path / "absent.json", "name_or_path", "is neither a file nor a packaged one")
    assert read_json_if_present(tmp_path / "absent.json") is None and read_json_if_present(config) == {"seed": 1}
    config.write_text("{")
    with pytest.raises(InputError, match="config.json: not valid JSON"):
        read_json_if_present(config)

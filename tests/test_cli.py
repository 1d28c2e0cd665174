"""The `gfr` command."""

import shutil
import subprocess
import sys

import pytest
from fixtures import BackgroundCommand, selected

from training.cli import main


def test_demo_prints_rates_and_writes_plot(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(20,20)" in out and "100102" in out
    png = tmp_path / "gfr_demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    assert [p.name for p in tmp_path.iterdir()] == ["gfr_demo.png"]


def test_demo_with_a_bad_dataset_names_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"cell_id": 1}]')
    assert main(["demo", "--dataset", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "bad.json: record 0 (cell_id 1): missing field(s)" in err


def test_gfr_console_script_is_installed():
    gfr = shutil.which("gfr")
    if gfr is None:
        pytest.fail("the `gfr` console script is not on PATH; run `uv sync`")
    result = subprocess.run([gfr, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    from training.cli import STAGES

    listed = result.stdout.split("positional arguments:")[1]
    assert all(f"\n    {name}" in listed for name, _, _ in STAGES), result.stdout


def _options(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((name, a) for a in sub._actions if a.option_strings and a.dest != "help")


def test_every_option_says_its_default_or_that_it_is_required():
    from training.cli import build_parser

    parser = build_parser()
    silent = []
    for command, action in _options(parser):
        text = " ".join(parser._subparsers._group_actions[0].choices[command].format_help().split())
        shown = action.required or action.default in (None, False) or "default" in (action.help or "") or f"(default: " in text
        if not shown:
            silent.append(f"{command} {action.option_strings[0]}")
    assert not silent, silent
    fit_help = parser._subparsers._group_actions[0].choices["fit"].format_help()
    assert "(required)" in fit_help and "(default: 0/1)" in fit_help


def test_every_command_has_a_description():
    from training.cli import build_parser

    parser = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        assert sub.description and len(sub.description) > 20, name


def _last_line_without_tensorflow(code):
    """Run `code` in a fresh interpreter, check it never imported TensorFlow or Keras; its last line."""
    code += "; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'"
    result = subprocess.run([sys.executable, "-c", "import sys; " + code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_help_and_argument_errors_do_not_import_tensorflow():
    """`gfr --help`, `gfr fit --help` and an argument error answer without loading TensorFlow."""
    code = (
        "from training.cli import main; "
        "print([main(['--help']), main(['fit', '--help']), main(['fit', '--bin-size', 'x'])])"
    )
    assert _last_line_without_tensorflow(code) == "[0, 0, 2]"


def test_stages_without_keras_run_without_tensorflow(tmp_path):
    """`gfr summary` and `gfr build-dataset` (as `synth-cells` and `preprocess`) never load TensorFlow."""
    (tmp_path / "run" / "fits_20_20").mkdir(parents=True)
    code = (
        "from training.cli import main, STAGES; "
        f"codes = [main(['summary', r'{tmp_path / 'run'}', '--saved-models', r'{tmp_path}']), "
        f"main(['build-dataset', '--fits', r'{tmp_path / 'missing'}', '--out', r'{tmp_path / 'd.json'}'])]; "
        "import gfr_keras.ephys.spiking_bank, gfr_keras.ephys.synthetic, gfr_keras.ephys.pipeline; "
        "print(codes, sorted(name for name, _, keras in STAGES if not keras))"
    )
    assert _last_line_without_tensorflow(code) == "[0, 2] ['build-dataset', 'preprocess', 'summary', 'synth-cells']"


@pytest.fixture(scope="module", autouse=True)
def demo_in_its_own_process(request, tmp_path_factory):
    """`gfr demo` run by the console script in a fresh process (TensorFlow starts there), started with this module
    so that it runs beside the in-process tests; a `BackgroundCommand`, or None when `gfr` is not installed."""
    gfr = shutil.which("gfr")
    if gfr is None or not selected(request, "test_the_cli_hides_tensorflow_start_up_lines"):
        yield None
        return
    folder = tmp_path_factory.mktemp("demo_in_its_own_process")
    run = BackgroundCommand([gfr, "demo", "--out", str(folder / "out")], folder, "demo")
    yield run
    run.stop()


def test_the_cli_hides_tensorflow_start_up_lines(demo_in_its_own_process):
    assert demo_in_its_own_process is not None, "the `gfr` console script is not on PATH; run `uv sync`"
    code, _, stderr = demo_in_its_own_process.wait(timeout_s=300)
    assert code == 0, stderr
    for noise in ("oneDNN", "cuda drivers", "cpu_feature_guard", "absl::InitializeLog", "cuInit"):
        assert noise not in stderr, stderr


def test_summary_reports_what_a_run_made(tmp_path, capsys):
    import json

    from training.cli import main

    run = tmp_path / "run"
    fits = run / "fits_20_20"
    fits.mkdir(parents=True)
    for cell_id, evr in ((1, 0.2), (2, 0.6), (3, 0.9), (4, 0.8)):
        (fits / f"{cell_id}.json").write_text(json.dumps({"cell_id": cell_id, "bin_size": 20, "actv_bin_size": 20, "status": "ok", "test_evr": evr}))
    (fits / "5.json").write_text(json.dumps({"cell_id": 5, "bin_size": 20, "actv_bin_size": 20, "status": "failed", "test_evr": None}))
    (run / "net").mkdir()
    (run / "net" / "result.json").write_text(json.dumps({"test_accuracy": 0.8125, "model": "m", "epochs_this_run": 2, "wall_time_s": 3.0}))
    models = tmp_path / "sm" / "lmnist" / "1"
    models.mkdir(parents=True)
    (models / "manifest.json").write_text(json.dumps({"kind": "lmnist", "training": {"test_accuracy": 0.8125}}))
    assert main(["summary", str(run), "--saved-models", str(tmp_path / "sm")]) == 0
    out = capsys.readouterr().out
    assert "fits_20_20       5 cells fitted,   4 ok, median test EVR 0.700" in out  # median of 0.2, 0.6, 0.8, 0.9
    assert "net                  test accuracy 0.812 (m, 2 epochs, 3 s)" in out
    assert "lmnist: test accuracy 0.812" in out
    assert main(["summary", str(tmp_path / "missing")]) == 2

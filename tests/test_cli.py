"""The `gfr` command."""

import shutil
import subprocess

import pytest

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
    assert "bad.json: record 0: missing field(s)" in err


def test_gfr_console_script_is_installed():
    gfr = shutil.which("gfr")
    if gfr is None:
        pytest.fail("the `gfr` console script is not on PATH; run `uv sync`")
    result = subprocess.run([gfr, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "demo" in result.stdout

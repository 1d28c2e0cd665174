"""Reruns into existing folders: a fit folder, a training run and a cell bank know what they were made with."""

import json
import shutil

import pytest

from gfr_keras.errors import RunStateError
from gfr_keras.fitting.config import FitConfig
from gfr_keras.fitting.pipeline import fit_folder_settings
from gfr_keras.run_settings import SETTINGS_FILE, check_settings, settings_differences, write_settings
from training.cli import main


def _fit(processed, out, *extra):
    argv = ["fit", "--processed", str(processed), "--bin-size", "20", "--activation-bin-size", "20", "--config", "test"]
    return main([*argv, "--out", str(out), *extra])


def _tree(folder):
    """Every file under `folder` with its bytes: what a refused rerun must leave as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fitted(fits_20_20):
    """The session's fit folder, made by `_fit(processed, out)` (shared with tests/test_fit_commands.py)."""
    return fits_20_20


def test_settings_differences_name_each_nested_setting():
    old = {"degree": 1, "fit_config": {"seed": 0, "hparams": [{"lr": 0.01, "epochs": 3}]}}
    new = {"degree": 2, "fit_config": {"seed": 0, "hparams": ({"lr": 0.01, "epochs": 3},)}}  # a tuple equals its list
    assert settings_differences(old, new) == [("degree", 1, 2)]
    assert settings_differences({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}) == [("a.c", None, 2)]


def test_a_settings_record_of_another_kind_is_refused(tmp_path):
    write_settings(tmp_path, "synthetic bank", {"seed": 0})
    with pytest.raises(RunStateError, match="holds a synthetic bank"):
        check_settings(tmp_path, "fit folder", {"degree": 1}, "use another folder")


def test_fit_folder_records_its_settings(fitted):
    record = json.loads((fitted / SETTINGS_FILE).read_text())
    assert record["kind"] == "fit folder"
    settings = record["settings"]
    assert (settings["bin_size_ms"], settings["activation_bin_size_ms"], settings["degree"], settings["C"]) == (20, 20, 1, 0.0)
    protocol = settings["fit_config"]
    assert protocol["config_name"] == "test" and protocol["loss_on_padding"] is True and protocol["penalty"] == "l1"
    assert protocol["hparams"] and "retrain_model" not in protocol


@pytest.mark.parametrize(
    "extra, difference",
    [
        (["--degree", "2"], "degree: 1 -> 2"),
        (["--C", "0.5"], "C: 0.0 -> 0.5"),
        (["--mask-padding"], "fit_config.loss_on_padding: True -> False"),
        (["--config", "default"], "fit_config.config_name: 'test' -> 'default'"),
    ],
)
def test_a_rerun_with_other_settings_stops_before_any_work(fitted, processed, extra, difference, capsys):
    before = _tree(fitted)
    capsys.readouterr()
    assert _fit(processed, fitted, *extra) == 2
    captured = capsys.readouterr()
    assert difference in captured.err and "another folder" in captured.err, captured.err
    assert "already fitted" not in captured.out
    assert _tree(fitted) == before


def test_another_configuration_is_refused_even_among_several(fitted, processed, tmp_path, capsys):
    """With --configurations every folder is checked before the first is fitted."""
    shutil.copytree(fitted, tmp_path / "fits_20_20")
    before = _tree(tmp_path)
    argv = ["fit", "--processed", str(processed), "--configurations", "10,20", "20,20", "--config", "test", "--degree", "2"]
    assert main([*argv, "--out", str(tmp_path / "fits_{bin}_{actv}")]) == 2
    assert "degree: 1 -> 2" in capsys.readouterr().err
    assert _tree(tmp_path) == before and not (tmp_path / "fits_10_20").exists()


def test_a_rerun_with_the_same_settings_resumes(fitted, processed, capsys):
    before = _tree(fitted)
    capsys.readouterr()
    assert _fit(processed, fitted) == 0
    out = capsys.readouterr().out
    assert "0 cells fitted" in out and "(3 already fitted)" in out, out
    after = _tree(fitted)
    assert {k: v for k, v in after.items() if k.endswith(".json")} == {k: v for k, v in before.items() if k.endswith(".json")}


def test_retrain_is_a_run_mode_not_a_setting():
    plain = fit_folder_settings(20, 20, FitConfig(), 1, 0.0)
    assert fit_folder_settings(20, 20, FitConfig(retrain_model=True, finetune=True), 1, 0.0) == plain
    assert fit_folder_settings(20, 20, FitConfig(seed=1), 1, 0.0) != plain


def test_a_folder_fitted_before_settings_were_recorded(fitted, processed, tmp_path, capsys):
    """Accepted (and recorded) when its fit files agree with the settings; refused when they do not."""
    legacy = tmp_path / "legacy"
    shutil.copytree(fitted, legacy)
    (legacy / SETTINGS_FILE).unlink()
    before = _tree(legacy)
    assert _fit(processed, legacy, "--bin-size", "50", "--activation-bin-size", "100") == 2
    assert "bin_size_ms: 20 -> 50" in capsys.readouterr().err and _tree(legacy) == before
    assert _fit(processed, legacy) == 0
    out = capsys.readouterr().out
    assert "fitted before folders recorded their settings" in out and "(3 already fitted)" in out
    assert json.loads((legacy / SETTINGS_FILE).read_text())["settings"] == json.loads((fitted / SETTINGS_FILE).read_text())["settings"]


# -- gfr train-network ------------------------------------------------------------------

#: No XLA: compiling costs about 17 s a run on 2 cores and these tests are about run folders, not compilation.
SMALL_RUN = ["train-network", "--n-nodes", "8", "--limit", "256", "--batch-size", "64", "--jit-compile", "off"]


def _epochs(run):
    import csv

    with open(run / "history.csv", newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_a_finished_run_is_left_alone_refused_or_continued(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*SMALL_RUN, "--epochs", "1", "--out", str(run)]) == 0
    assert json.loads((run / SETTINGS_FILE).read_text())["settings"]["lr"] == 1e-3
    finished = _tree(run)
    capsys.readouterr()
    # The same command again: nothing trained, nothing appended, nothing rewritten.
    assert main([*SMALL_RUN, "--epochs", "1", "--out", str(run)]) == 0
    assert "nothing to do" in capsys.readouterr().out and _tree(run) == finished
    # More epochs without --continue, or other settings: refused before any work, saying what to do.
    assert main([*SMALL_RUN, "--epochs", "2", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--continue --epochs N" in err and "another --out" in err, err
    assert main([*SMALL_RUN, "--epochs", "1", "--lr", "0.01", "--out", str(run)]) == 2
    assert "lr: 0.001 -> 0.01" in capsys.readouterr().err
    assert main([*SMALL_RUN, "--epochs", "2", "--seed", "1", "--continue", "--out", str(run)]) == 2
    assert "seed: 0 -> 1" in capsys.readouterr().err
    assert _tree(run) == finished
    # --continue trains the missing epoch only, and the history keeps one row per epoch.
    assert main([*SMALL_RUN, "--epochs", "2", "--continue", "--out", str(run)]) == 0
    assert "Epoch 2/2" in capsys.readouterr().out
    result = json.loads((run / "result.json").read_text())
    assert _epochs(run) == [0, 1] and result["epochs"] == 2 and result["epochs_this_run"] == 1
    assert main([*SMALL_RUN, "--epochs", "1", "--continue", "--out", str(run)]) == 2
    assert "has 2 epochs done, more than --epochs 1" in capsys.readouterr().err
    assert main(["summary", str(tmp_path), "--saved-models", str(tmp_path / "none")]) == 0
    assert "2 epochs" in capsys.readouterr().out
    assert main([*SMALL_RUN, "--epochs", "1", "--continue", "--out", str(tmp_path / "fresh")]) == 2
    assert "holds no run to continue" in capsys.readouterr().err


def test_a_run_killed_after_its_last_epoch_only_writes_its_result(tmp_path, capsys):
    """The state of a run killed between its last epoch and result.json: every epoch backed up, no result."""
    run = tmp_path / "run"
    assert main([*SMALL_RUN, "--epochs", "2", "--out", str(run)]) == 0
    first = json.loads((run / "result.json").read_text())
    (run / "result.json").unlink()
    history, best = (run / "history.csv").read_bytes(), (run / "best.keras").read_bytes()
    capsys.readouterr()
    assert main([*SMALL_RUN, "--epochs", "2", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "writing its result" in out and "Epoch " not in out, out
    assert (run / "history.csv").read_bytes() == history and (run / "best.keras").read_bytes() == best
    result = json.loads((run / "result.json").read_text())
    assert result["epochs"] == 2 and result["epochs_this_run"] == 0
    assert result["test_accuracy"] == first["test_accuracy"] and result["best_val_accuracy"] == first["best_val_accuracy"]


def test_a_run_from_before_settings_were_recorded(tmp_path, capsys):
    """A finished run of the earlier layout (no record, backup deleted, an epoch row appended twice)."""
    from gfr_keras.network.run_folder import read_history

    run = tmp_path / "run"
    assert main([*SMALL_RUN, "--epochs", "1", "--out", str(run)]) == 0
    (run / SETTINGS_FILE).unlink()
    shutil.rmtree(run / "backup")
    lines = (run / "history.csv").read_text().splitlines()
    (run / "history.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    assert [row["epoch"] for row in read_history(run / "history.csv")] == ["0"]
    capsys.readouterr()
    assert main([*SMALL_RUN, "--epochs", "1", "--lr", "0.01", "--out", str(run)]) == 2
    assert "lr: 0.001 -> 0.01" in capsys.readouterr().err and not (run / SETTINGS_FILE).exists()
    assert main([*SMALL_RUN, "--epochs", "1", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and (run / SETTINGS_FILE).exists()
    assert main([*SMALL_RUN, "--epochs", "2", "--continue", "--out", str(run)]) == 2
    assert "cannot be continued" in capsys.readouterr().err


# -- gfr synth-cells --------------------------------------------------------------------

def _synth(out, *extra):
    return main(["synth-cells", "--n", "3", "--seed", "1", "--workers", "1", "--out", str(out), *extra])


def test_a_bank_refuses_other_settings_and_replaces_only_its_own_files(bank, tmp_path, capsys):
    out = tmp_path / "bank"
    shutil.copytree(bank, out)
    record = json.loads((out / SETTINGS_FILE).read_text())
    assert record["kind"] == "synthetic bank" and record["settings"]["seed"] == 1
    old_folders = sorted(p.name for p in out.glob("specimen_*"))
    assert sorted(record["files"]) == sorted(["manifest.json", "cells.json", "bank.json", "nwb2", *old_folders])
    before = _tree(out)
    capsys.readouterr()
    assert _synth(out) == 0  # the same settings: nothing simulated again
    assert "(3 already there, 0 simulated" in capsys.readouterr().out and _tree(out) == before
    for extra, difference in ((["--seed", "2"], "seed: 1 -> 2"), (["--model", "glif"], "model: 'spiking' -> 'glif'"),
                              (["--sampling-rate", "25000"], "sampling_rate_hz: 50000 -> 25000")):
        assert _synth(out, *extra) == 2
        err = capsys.readouterr().err
        assert difference in err and "--replace" in err, err
    assert _tree(out) == before
    # A file the bank did not write: never deleted, so the bank is not replaced.
    (out / old_folders[0] / "notes.txt").write_text("mine")
    assert _synth(out, "--seed", "2", "--replace") == 2
    assert f"{old_folders[0]}/notes.txt" in capsys.readouterr().err
    (out / old_folders[0] / "notes.txt").unlink()
    assert _tree(out) == before
    # Replaced: the old cells' folders are gone, the new bank is complete and recorded.
    assert main(["synth-cells", "--n", "1", "--seed", "2", "--sampling-rate", "25000", "--workers", "1", "--replace",
                 "--out", str(out)]) == 0
    assert "replaced the old bank" in capsys.readouterr().out
    cells = json.loads((out / "cells.json").read_text())
    new_folders = sorted(p.name for p in out.glob("specimen_*"))
    assert new_folders == [f"specimen_{cells[0]['specimen__id']}"] and len(cells) == 1
    assert (out / new_folders[0] / "ephys.nwb").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.json", "cells.json", "bank.json", SETTINGS_FILE, *new_folders])
    record = json.loads((out / SETTINGS_FILE).read_text())
    assert record["settings"] == {"model": "spiking", "n": 1, "seed": 2, "per_line": 1, "sampling_rate_hz": 25000}


def test_a_bank_from_before_settings_were_recorded(bank, tmp_path, capsys):
    out = tmp_path / "bank"
    shutil.copytree(bank, out)
    (out / SETTINGS_FILE).unlink()
    before = _tree(out)
    capsys.readouterr()
    assert _synth(out, "--n", "4") == 2
    assert "cells: [" in capsys.readouterr().err and _tree(out) == before
    assert _synth(out) == 0
    assert "written before banks recorded their settings" in capsys.readouterr().out
    assert json.loads((out / SETTINGS_FILE).read_text())["settings"]["seed"] == 1

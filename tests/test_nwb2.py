"""NWB 2 files and plain arrays in: `gfr preprocess --nwb`, the stimulus roles, spike detection, the arrays entry."""

import csv
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from gfr_keras.ephys.nwb import write_nwb
from gfr_keras.ephys.nwb2 import file_cell_id, process_nwb2_file
from gfr_keras.ephys.processed import read_processed_cell
from gfr_keras.ephys.spike_detection import detect_spike_times
from gfr_keras.ephys.stimulus_roles import StimulusMap, load_stimulus_map, stimulus_role
from gfr_keras.errors import InputError
from nwb2_files import RATE_HZ, SWEEPS, write_lab_file

ROOT = Path(__file__).resolve().parents[1]


def _gfr(argv):
    from training.cli import main

    return main(argv)


def _failures(folder):
    with open(folder / "failures.csv", newline="") as handle:
        return {int(row["cell_id"]): row["reason"] for row in csv.DictReader(handle)}


# -- an NWB 2 file written independently with pynwb ------------------------------------------


def test_a_lab_file_is_processed_with_only_nwb_and_out(tmp_path, capsys):
    truth = write_lab_file(tmp_path / "in" / "601506492.nwb")
    assert _gfr(["preprocess", "--nwb", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    cell = read_processed_cell(tmp_path / "out" / "601506492.h5")  # identifier not an integer: the file name
    assert (cell["species"], cell["cre_line"]) == ("Mus musculus", "Sst-IRES-Cre/wt;Ai14(RCL-tdT)/wt")
    binned = {n: role for n, (role, _) in truth.items() if role not in ("Test",)}
    assert {n: s["stimulus_name"] for n, s in cell["sweeps"].items()} == binned
    for number, (role, spikes) in truth.items():
        if role == "Test":
            continue
        sweep = cell["sweeps"][number]
        assert sweep["sampling_rate_hz"] == RATE_HZ
        # Every hand-made spike is detected and binned (all lie inside the stimulus).
        assert sweep["rate_per_ms"][10].sum() * 10 == pytest.approx(len(spikes))
        # conversion and offset applied, A -> pA: the step's bins hold its amplitude.
        amplitude = SWEEPS[number][3]
        if role == "Long Square":
            assert sweep["current_pa"][100][1] == pytest.approx(amplitude)
    shortest_isi_ms = min(np.diff(s).min() for _, s in truth.values() if len(s) > 1) * 1000.0 / RATE_HZ
    assert cell["max_firing_rate_per_ms"] == pytest.approx(1.0 / shortest_isi_ms, rel=0.05)
    assert "0 failed" in capsys.readouterr().out


def test_detected_spikes_sit_at_the_hand_made_thresholds(tmp_path):
    from nwb2_files import sweep_arrays

    _, voltage, spikes = sweep_arrays(3, "Long Square", 0.5, 150.0, 30.0)
    detected = np.round(detect_spike_times(voltage, RATE_HZ) * RATE_HZ).astype(int)
    assert len(detected) == len(spikes) > 10
    assert np.abs(detected - spikes).max() <= 3  # the threshold is where dV/dt starts to rise


def test_files_without_the_recordings_table_pair_series_by_sweep_number(tmp_path):
    write_lab_file(tmp_path / "table.nwb", identifier="17")
    write_lab_file(tmp_path / "series.nwb", identifier="17", table=False)
    with_table, _ = process_nwb2_file(tmp_path / "table.nwb")
    without, _ = process_nwb2_file(tmp_path / "series.nwb")
    assert with_table["cell_id"] == without["cell_id"] == 17
    assert sorted(with_table["sweeps"]) == sorted(without["sweeps"])
    for number, sweep in with_table["sweeps"].items():
        np.testing.assert_array_equal(sweep["current_pa"][20], without["sweeps"][number]["current_pa"][20])
        np.testing.assert_array_equal(sweep["rate_per_ms"][20], without["sweeps"][number]["rate_per_ms"][20])


def test_cell_id_from_identifier_then_file_name_then_a_stable_number():
    assert file_cell_id("/data/anything.nwb", "485909730") == 485909730
    assert file_cell_id("/data/485909730.nwb", "3c2e-uuid") == 485909730
    derived = file_cell_id("/data/sub-1_ses-2_icephys.nwb", "3c2e-uuid")
    assert derived == file_cell_id("/elsewhere/sub-1_ses-2_icephys.nwb", None) and derived >= 0


# -- stimulus names and roles -------------------------------------------------------------------


def test_allen_names_and_mies_codes_have_roles_and_other_names_none():
    assert stimulus_role("Long Square") == "Long Square" and stimulus_role("Noise 2") == "Noise 2"
    assert stimulus_role("C1LSCOARSE150216_DA_0") == "Long Square"
    assert stimulus_role("X4PS_SupraThresh_DA_0") == "Long Square"
    assert stimulus_role("C1NSSEED_1150216[2]") == "Noise 1"
    assert stimulus_role("C1SSFINEST150112_DA_0") == "Short Square"
    assert stimulus_role("C2SSTRIPLE171103_DA_0") == "ignore"
    assert stimulus_role("C2CHIRP180503_DA_0") is None  # ipfx: "Unknown"
    assert stimulus_role("IV_steps") is None
    mapping = StimulusMap({"IV_steps": "Long Square", "noise_seed*": "Noise 1", "re:frozen_[AB]2": "Noise 2"})
    assert stimulus_role("IV_steps", mapping) == "Long Square"
    assert stimulus_role("noise_seed_11", mapping) == "Noise 1"
    assert stimulus_role("frozen_B2", mapping) == "Noise 2" and stimulus_role("frozen_B22", mapping) is None
    assert stimulus_role("C1LSCOARSE150216_DA_0", StimulusMap({"C1LSCOARSE150216": "ignore"})) == "ignore"


def test_a_bad_stimulus_map_is_named(tmp_path):
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"IV_*": "Long square"}))
    with pytest.raises(InputError, match=r"map.json: 'IV_\*' maps to 'Long square'; expected one of"):
        load_stimulus_map(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="map.json: expected a JSON object"):
        load_stimulus_map(bad)


def test_unknown_names_are_reported_and_a_missing_role_fails_naming_file_and_sweeps(tmp_path, capsys):
    renamed = {7: "frozen_noise_B", 8: "frozen_noise_B"}  # the two Noise 2 sweeps
    write_lab_file(tmp_path / "in" / "1001.nwb", descriptions=renamed)
    out = tmp_path / "out"
    assert _gfr(["preprocess", "--nwb", str(tmp_path / "in"), "--out", str(out)]) == 2  # the input's fault: no cell done
    reason = _failures(out)[1001]
    assert "1001.nwb: missing stimulus: Noise 2" in reason
    assert "sweep 7 (frozen_noise_B): unknown stimulus name 'frozen_noise_B'" in reason
    with open(out / "sweep_warnings.csv", newline="") as handle:
        warnings = list(csv.DictReader(handle))
    assert [w["message"].split(": ", 1)[1][:29] for w in warnings] == ["sweep 7 (frozen_noise_B): unk"] + [
        "sweep 8 (frozen_noise_B): unk"]
    # The user's map gives the name a role; the rerun processes the cell and clears its failure.
    (tmp_path / "map.json").write_text(json.dumps({"frozen_noise_*": "Noise 2"}))
    argv = ["preprocess", "--nwb", str(tmp_path / "in"), "--out", str(out), "--stimulus-map", str(tmp_path / "map.json")]
    assert _gfr(argv) == 0
    assert [s["stimulus_name"] for s in read_processed_cell(out / "1001.h5")["sweeps"].values()].count("Noise 2") == 2
    assert _failures(out) == {}


def test_files_that_are_not_nwb2_each_fail_with_their_reason(tmp_path, capsys):
    folder = tmp_path / "in"
    write_lab_file(folder / "2002.nwb")
    (folder / "3003.nwb").write_text("sweep,current\n1,20\n")
    with h5py.File(folder / "4004.nwb", "w") as handle:
        handle["data"] = np.zeros(3)
    sweep = {"sweep_number": 0, "stimulus_name": "Long Square", "stimulus_a": np.zeros(100), "response_v": np.zeros(100),
             "spike_times_s": [], "experiment_start": 10, "amplitude_pa": 0.0}
    write_nwb(folder / "5005.nwb", [sweep], RATE_HZ)
    assert _gfr(["preprocess", "--nwb", str(folder), "--out", str(tmp_path / "out")]) == 0  # one cell done
    reasons = _failures(tmp_path / "out")
    assert set(reasons) == {3003, 4004, 5005}
    assert reasons[3003] == f"{folder / '3003.nwb'}: not an HDF5 file, so not an NWB 2 file"
    assert reasons[4004].startswith(f"{folder / '4004.nwb'}: an HDF5 file that is not NWB 2")
    assert reasons[5005].startswith(f"{folder / '5005.nwb'}: an NWB 1 file (NWB-1.0.5)")
    assert (tmp_path / "out" / "2002.h5").exists()


def test_bad_arguments_are_named(tmp_path, capsys):
    write_lab_file(tmp_path / "a.nwb")
    write_lab_file(tmp_path / "b.nwb")
    argv = ["preprocess", "--nwb", str(tmp_path / "a.nwb"), str(tmp_path / "b.nwb"), "--out", str(tmp_path / "o")]
    assert _gfr(argv + ["--cell-id", "5"]) == 2
    assert "--cell-id: valid with one NWB file only, got 2 files" in capsys.readouterr().err
    assert _gfr(["preprocess", "--nwb", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    assert _gfr(["preprocess", "--stimulus-map", "m.json", "--out", str(tmp_path / "o")]) == 2
    assert "--stimulus-map and --cell-id go with --nwb" in capsys.readouterr().err
    assert _gfr(argv[:3] + ["--out", str(tmp_path / "o"), "--cell-id", "77"]) == 0
    assert (tmp_path / "o" / "77.h5").exists()


# -- sweeps as arrays: the docs' example runs -----------------------------------------------------


def _docs_example():
    text = (ROOT / "docs" / "fitting_your_recordings.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next(block for block in blocks if "write_processed_cell_from_sweeps" in block)


def test_the_docs_arrays_example_writes_a_cell_gfr_fit_reads(tmp_path, monkeypatch):
    from nwb2_files import sweep_arrays

    recordings = tmp_path / "my_recordings" / "cell_17"
    recordings.mkdir(parents=True)
    protocols = {"Long Square": "IV", "Ramp": "ramp", "Noise 1": "noise_A", "Noise 2": "noise_B", "Test": "seal"}
    for number, (_, role, seconds, amplitude, rate) in enumerate(SWEEPS):
        current, voltage, _ = sweep_arrays(number, role, seconds, amplitude, rate)
        np.savez(recordings / f"sweep_{number:02d}.npz", current_pa=current, voltage_mv=voltage,
                 rate_hz=RATE_HZ, protocol=protocols[role])
    monkeypatch.chdir(tmp_path)
    exec(compile(_docs_example(), "docs/fitting_your_recordings.md", "exec"), {})
    cell = read_processed_cell(tmp_path / "processed" / "17.h5")
    expected = [role for _, role, *_ in SWEEPS if role != "Test"]
    assert [s["stimulus_name"] for _, s in sorted(cell["sweeps"].items())] == expected
    lab, _ = process_nwb2_file(_lab_file(tmp_path))
    for number, sweep in lab["sweeps"].items():  # the same sweeps through NWB 2 and through arrays
        np.testing.assert_allclose(cell["sweeps"][number]["current_pa"][10], sweep["current_pa"][10])
        np.testing.assert_array_equal(cell["sweeps"][number]["rate_per_ms"][10], sweep["rate_per_ms"][10])


def _lab_file(folder):
    write_lab_file(folder / "lab.nwb")
    return folder / "lab.nwb"


def test_the_nwb2_modules_do_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, gfr_keras.ephys.nwb2_pipeline, gfr_keras.ephys.nwb2_writer, gfr_keras.ephys.sweeps, pynwb; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"

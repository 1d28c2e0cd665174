"""One synthetic bank written as NWB 1 and NWB 2: both readers give the same processed cells and fits;
the NWB 2 files pass nwbinspector; spike detection agrees with allensdk's extractor on its traces."""

import os

import numpy as np
import pytest

from gfr_keras.ephys.processed import read_processed_cell
from gfr_keras.ephys.spike_detection import detect_spike_times
from gfr_keras.ephys.sweeps import recording_end


def _gfr(argv):
    from training.cli import main

    return main(argv)


@pytest.fixture(scope="module")
def two_formats(tmp_path_factory):
    """Two spiking cells at 25 kHz (Allen's extractor filters at 10 kHz), both formats, both preprocessed."""
    root = tmp_path_factory.mktemp("nwb2_bank")
    bank = root / "bank"
    argv = ["synth-cells", "--n", "2", "--seed", "4", "--sampling-rate", "25000", "--workers", "1", "--format", "both"]
    assert _gfr(argv + ["--out", str(bank)]) == 0
    nwb1, nwb2 = root / "processed_nwb1", root / "processed_nwb2"
    assert _gfr(["preprocess", "--manifest", str(bank / "manifest.json"), "--out", str(nwb1), "--workers", "1"]) == 0
    assert _gfr(["preprocess", "--nwb", str(bank / "nwb2"), "--out", str(nwb2)]) == 0
    return bank, nwb1, nwb2


def test_both_readers_give_the_same_processed_cells(two_formats):
    bank, nwb1, nwb2 = two_formats
    names = sorted(p for p in os.listdir(nwb1) if p.endswith(".h5"))
    assert len(names) == 2 and names == sorted(p for p in os.listdir(nwb2) if p.endswith(".h5"))
    compared = 0
    for name in names:
        a, b = read_processed_cell(nwb1 / name), read_processed_cell(nwb2 / name)
        # the same cell, sweep for sweep; only where each file says it came from differs
        assert {k: a[k] for k in a if k not in ("sweeps", "source")} == {k: b[k] for k in b if k not in ("sweeps", "source")}
        assert a["source"]["kind"] == "synthetic" and b["source"] == {"kind": "nwb2", "files": [f"{a['cell_id']}.nwb"]}
        assert sorted(a["sweeps"]) == sorted(b["sweeps"])
        for number, sweep in a["sweeps"].items():
            other = b["sweeps"][number]
            assert (sweep["stimulus_name"], sweep["sampling_rate_hz"]) == (other["stimulus_name"], other["sampling_rate_hz"])
            for bin_size, current in sweep["current_pa"].items():
                np.testing.assert_array_equal(current, other["current_pa"][bin_size])  # currents equal
                # Both files store the same spike times (NWB 2: Allen's processing/spikes), so the
                # counts are equal bin for bin, not only up to a spike on a bin edge.
                np.testing.assert_array_equal(sweep["rate_per_ms"][bin_size], other["rate_per_ms"][bin_size])
                compared += 1
    assert compared >= 2 * 4 * 15  # every sweep (Long Squares, Ramp, 3 + 3 Noise) of both cells, 4 bin sizes


def test_a_tiny_fit_of_either_gives_the_same_parameters(two_formats):
    from gfr_keras.fitting.config import load_fit_config
    from gfr_keras.fitting.trainer import fit_cells

    _, nwb1, nwb2 = two_formats
    name = sorted(p for p in os.listdir(nwb1) if p.endswith(".h5"))[0]
    values = load_fit_config("test").to_dict()
    values.update(activation_epochs=20, activation_repeats=1, hparams=[{"lr": 1e-3, "epochs": 3}])
    # One population holds the cell from each path (one compilation); its units are fitted independently.
    fits = fit_cells([read_processed_cell(folder / name) for folder in (nwb1, nwb2)], 100, 100, config=values)
    assert fits[0]["status"] == fits[1]["status"] == "ok"
    params = [fit["params"] for fit in fits]
    assert params[0] is not None and params[0].keys() == params[1].keys()
    for key in params[0]:
        np.testing.assert_array_equal(np.asarray(params[0][key], dtype=object), np.asarray(params[1][key], dtype=object))


def test_the_bank_nwb2_files_pass_nwbinspector_without_critical_findings(two_formats):
    from nwbinspector import Importance, inspect_nwbfile

    bank, _, _ = two_formats
    files = sorted((bank / "nwb2").glob("*.nwb"))
    assert len(files) == 2
    for path in files:
        messages = list(inspect_nwbfile(nwbfile_path=str(path)))
        serious = [m for m in messages if m.importance.value >= Importance.CRITICAL.value]
        assert serious == [], [(m.check_function_name, m.object_name, m.message) for m in serious]


def test_spike_detection_agrees_with_allensdk_on_the_bank_traces(two_formats):
    from allensdk.core.nwb_data_set import NwbDataSet
    from allensdk.ephys.ephys_extractor import EphysSweepFeatureExtractor

    bank, _, _ = two_formats
    total = 0
    for folder in sorted(bank.glob("specimen_*")):
        data_set = NwbDataSet(str(folder / "ephys.nwb"))
        names = {n: data_set.get_sweep_metadata(n)["aibs_stimulus_name"].decode() for n in data_set.get_sweep_numbers()}
        # Every Long Square, Short Square and Ramp, and one Noise 1 sweep (15 s each: the extractor is slow on them).
        chosen = [n for n, name in names.items() if name in ("Long Square", "Short Square", "Ramp")]
        chosen.append(min(n for n, name in names.items() if name == "Noise 1"))
        for number in chosen:
            sweep = data_set.get_sweep(number)
            rate = float(sweep["sampling_rate"])
            voltage = 1e3 * np.asarray(sweep["response"], dtype=np.float64)
            voltage = voltage[: recording_end(voltage) + 1]
            extractor = EphysSweepFeatureExtractor(t=np.arange(len(voltage)) / rate, v=voltage, filter=10.0)
            extractor.process_spikes()
            expected = [spike["threshold_index"] for spike in extractor.spikes()]
            found = np.round(detect_spike_times(voltage, rate) * rate).astype(int)
            assert list(found) == expected, f"{folder.name} sweep {number}"
            total += len(expected)
    assert total > 100  # many spikes, at many rates, in both cells


def test_synth_cells_formats(two_formats, tmp_path, capsys):
    bank, _, _ = two_formats
    argv = ["synth-cells", "--n", "2", "--seed", "4", "--sampling-rate", "25000", "--workers", "1"]
    assert _gfr(argv + ["--format", "nwb2", "--out", str(bank)]) == 0  # both formats there: nothing to simulate
    assert "2 already there, 0 simulated" in capsys.readouterr().out
    assert _gfr(["synth-cells", "--model", "glif", "--format", "nwb2", "--out", str(tmp_path)]) == 2
    assert "--format: NWB 2 banks are written for --model spiking only" in capsys.readouterr().err

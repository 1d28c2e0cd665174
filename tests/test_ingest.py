"""Allen ingestion through allensdk, on a synthetic cell bank written by `gfr synth-cells`."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from gfr_keras.ephys.binning import BIN_SIZES_MS
from gfr_keras.ephys.processed import read_processed_cell
from training.cli import main


ROOT = Path(__file__).resolve().parents[1]
from fixtures import CORRUPT, NO_NOISE_2, NO_SPIKES


def _nwb_sweeps(path):
    """Stimulus name, spikes and window inputs of every sweep, read with h5py alone."""
    sweeps = {}
    with h5py.File(path, "r") as handle:
        for name, group in handle["stimulus/presentation"].items():
            number = int(name.split("_")[1])
            sweeps[number] = {
                "stimulus_name": group["aibs_stimulus_name"][()].decode(),
                "spike_times_s": handle[f"analysis/spike_times/{name}"][()],
                "current_pa": group["data"][()] * 1e12,
                "rate_hz": group["starting_time"].attrs["rate"],
            }
    return sweeps


def test_bank_is_a_cell_types_cache_of_real_cells(bank):
    from allensdk.core.cell_types_cache import CellTypesCache

    cells = CellTypesCache(manifest_file=str(bank / "manifest.json")).get_cells()
    metadata = __import__("pandas").read_csv(ROOT / "gfr_keras" / "resources" / "allen_cell_types_metadata.csv")
    real = metadata.set_index("specimen__id")
    assert len(cells) == 3
    for cell in cells:
        assert cell["species"] == real.loc[cell["id"], "donor__species"]
        nwb = bank / f"specimen_{cell['id']}" / "ephys.nwb"
        assert nwb.stat().st_size < 16e6  # 50 kHz, ~150 s of sweeps (Allen's own files: 50-150 MB)
        sweeps = json.loads((bank / f"specimen_{cell['id']}" / "ephys_sweeps.json").read_text())
        names = [s["stimulus_name"] for s in sweeps]
        assert names.count("Noise 1") == 3 and names.count("Noise 2") == 3 and names.count("Test") == 1
        assert 10 <= names.count("Long Square") <= 15 and names.count("Ramp") == 1
        assert names.count("Short Square") == 4


def test_repeats_differ_but_share_their_stimulus(bank):
    cell_dir = next(bank.glob("specimen_*"))
    sweeps = _nwb_sweeps(cell_dir / "ephys.nwb")
    noise_1 = [s for s in sweeps.values() if s["stimulus_name"] == "Noise 1"]
    noise_2 = [s for s in sweeps.values() if s["stimulus_name"] == "Noise 2"]
    np.testing.assert_array_equal(noise_1[0]["current_pa"], noise_1[1]["current_pa"])
    assert not np.array_equal(noise_1[0]["current_pa"], noise_2[0]["current_pa"])
    assert not np.array_equal(noise_1[0]["spike_times_s"], noise_1[1]["spike_times_s"])


def test_processed_files_have_the_documented_layout(bank, processed):
    files = sorted(processed.glob("*.h5"))
    assert len(files) == 3
    with h5py.File(files[0], "r") as handle:
        assert {"cell_id", "max_firing_rate_per_ms", "sampling_rate_hz", "species", "cre_line"} <= set(handle.attrs)
        sweep = next(iter(handle["sweeps"].values()))
        assert "stimulus_name" in sweep.attrs
        assert {f"current_pa_{b}ms" for b in BIN_SIZES_MS} | {f"rate_per_ms_{b}ms" for b in BIN_SIZES_MS} == set(sweep)
    assert (processed / "cell_ids.csv").read_text().splitlines()[0] == "cell_id"
    assert sorted(p.name for p in (processed / "plots").glob("*.png")) == sorted(f.stem + ".png" for f in files)


def test_sweeps_grouped_by_stimulus_and_spikes_conserved(bank, processed):
    for path in processed.glob("*.h5"):
        cell = read_processed_cell(path)
        nwb = _nwb_sweeps(bank / f"specimen_{cell['cell_id']}" / "ephys.nwb")
        names = [s["stimulus_name"] for s in cell["sweeps"].values()]
        assert "Test" not in names
        assert sorted(set(names)) == ["Long Square", "Noise 1", "Noise 2", "Ramp"]
        for number, sweep in cell["sweeps"].items():
            assert sweep["stimulus_name"] == nwb[number]["stimulus_name"]
            lengths = {b: len(sweep["rate_per_ms"][b]) for b in BIN_SIZES_MS}
            for b in BIN_SIZES_MS:
                # Every bin size covers the same window: counts agree up to the last partial bin.
                assert lengths[b] == pytest.approx(lengths[10] * 10 / b, abs=1)
            spikes = nwb[number]["spike_times_s"]
            counts = sweep["rate_per_ms"][10] * 10
            np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # whole spikes per bin
            binned_spikes = int(np.round(counts.sum()))
            assert binned_spikes <= len(spikes)
            if sweep["stimulus_name"] in ("Long Square", "Noise 1", "Noise 2"):
                # These windows run to the end of the sweep: only the test pulse and
                # the pre-onset second are dropped, where the cells do not fire.
                onset_s, rate = 1.02, nwb[number]["rate_hz"]
                in_window = (spikes >= onset_s - 1.5 / rate) & (spikes < len(nwb[number]["current_pa"]) / rate - 0.01)
                assert binned_spikes == np.sum(in_window)


def test_onset_and_test_pulse_are_excluded(bank, processed):
    cell = read_processed_cell(next(processed.glob("*.h5")))
    for sweep in cell["sweeps"].values():
        if sweep["stimulus_name"] == "Long Square":
            # The window starts at the last sample before the step (the first non-zero
            # difference, as in the published code): the first 10 ms bin holds one
            # zero sample and 499 at the amplitude (50 kHz); the test pulse and the
            # silent 1.02 s before the onset are gone.
            current = sweep["current_pa"][10]
            assert current[0] == pytest.approx(current[1] * 499 / 500, rel=1e-6)
            assert len(current) == 200  # 2 s from the onset to the end of the 3.02 s sweep
            # ...and so the step's last sample falls in bin 100.
            assert current[100] == pytest.approx(current[1] / 500, rel=1e-6)
            assert np.all(current[101:] == 0.0)


def test_max_firing_rate_matches_the_simulated_spikes(bank, processed):
    for path in processed.glob("*.h5"):
        cell = read_processed_cell(path)
        nwb = _nwb_sweeps(bank / f"specimen_{cell['cell_id']}" / "ephys.nwb")
        shortest_isi_ms = min(
            np.diff(np.sort(s["spike_times_s"])).min() * 1000 for s in nwb.values() if len(s["spike_times_s"]) > 1
        )
        assert cell["max_firing_rate_per_ms"] == pytest.approx(1 / shortest_isi_ms)
        assert cell["sampling_rate_hz"] == 50_000


def _run_preprocess(manifest, out):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # One process: a SIGKILL of the command leaves worker processes to finish (and atomically
    # write) the cell they hold, so the files at the kill would not be the files the rerun skips.
    command = [sys.executable, "-m", "training.cli", "preprocess", "--manifest", str(manifest), "--out", str(out), "--workers", "1"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _snapshot(folder):
    cells = {p.name: read_processed_cell(p) for p in sorted(folder.glob("*.h5"))}
    return cells, (folder / "failures.csv").read_text()


def _assert_same(a, b):
    (cells_a, failures_a), (cells_b, failures_b) = a, b
    assert failures_a == failures_b
    assert cells_a.keys() == cells_b.keys()
    for name in cells_a:
        for number, sweep in cells_a[name]["sweeps"].items():
            for b in BIN_SIZES_MS:
                np.testing.assert_array_equal(sweep["rate_per_ms"][b], cells_b[name]["sweeps"][number]["rate_per_ms"][b])
                np.testing.assert_array_equal(sweep["current_pa"][b], cells_b[name]["sweeps"][number]["current_pa"][b])


@pytest.fixture(scope="module")
def broken_processed(broken_bank, tmp_path_factory):
    """The broken bank preprocessed by one uninterrupted run (default workers)."""
    out = tmp_path_factory.mktemp("broken_processed")
    assert main(["preprocess", "--manifest", str(broken_bank / "manifest.json"), "--out", str(out)]) == 0
    return out


def test_failing_cells_are_recorded_and_the_others_finish(broken_processed):
    out = broken_processed
    with open(out / "failures.csv", newline="") as handle:
        reasons = {int(row["cell_id"]): row["reason"] for row in csv.DictReader(handle)}
    assert set(reasons) == {CORRUPT, NO_NOISE_2, NO_SPIKES}
    assert "cannot read the NWB file" in reasons[CORRUPT]
    assert reasons[NO_NOISE_2].startswith("missing stimulus: Noise 2")
    assert reasons[NO_SPIKES] == "no spikes in any sweep"
    assert len(list(out.glob("*.h5"))) == 3


def test_killed_run_resumes_to_the_same_files(broken_bank, broken_processed, tmp_path, capsys):
    manifest = broken_bank / "manifest.json"
    reference = broken_processed  # the uninterrupted run

    out = tmp_path / "killed"
    process = _run_preprocess(manifest, out)
    deadline = time.time() + 240
    while time.time() < deadline and not list(out.glob("*.h5")):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    finished = list(out.glob("*.h5"))
    assert 1 <= len(finished) < 3, "the run was not killed mid-way"
    for path in finished:
        read_processed_cell(path)  # every file there is complete

    capsys.readouterr()
    # Only the killed run needs its own process; the rerun works here, as `gfr preprocess` would.
    assert main(["preprocess", "--manifest", str(manifest), "--out", str(out), "--workers", "1"]) == 0
    output = capsys.readouterr().out
    assert f"{len(finished)} skipped" in output, output
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    _assert_same(_snapshot(out), _snapshot(reference))


def test_cell_ids_file_selects_cells_and_bad_ids_are_named(bank, tmp_path, capsys):
    ids = tmp_path / "ids.csv"
    cell_id = json.loads((bank / "cells.json").read_text())[1]["specimen__id"]
    ids.write_text(f"cell_id\n{cell_id}\n")
    out = tmp_path / "one"
    assert main(["preprocess", "--manifest", str(bank / "manifest.json"), "--out", str(out), "--cell-ids", str(ids)]) == 0
    assert [p.stem for p in out.glob("*.h5")] == [str(cell_id)]
    ids.write_text("cell_id\n123\nabc\n")
    assert main(["preprocess", "--manifest", str(bank / "manifest.json"), "--out", str(out), "--cell-ids", str(ids)]) == 2
    assert "ids.csv: line 3: expected a cell id, got 'abc'" in capsys.readouterr().err


def test_a_missing_manifest_never_goes_online(tmp_path, capsys):
    """Without --download, a manifest that does not exist is an error naming it and the way to download."""
    missing = tmp_path / "nowhere" / "manifest.json"
    assert main(["preprocess", "--manifest", str(missing), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"--manifest: {missing} does not exist" in err and "--download" in err
    assert not missing.exists() and not (tmp_path / "out").exists()


def test_a_cell_missing_from_the_cache_fails_offline_without_touching_the_cache(bank, tmp_path, monkeypatch, capsys):
    """With an existing manifest, allensdk's lazy fetch would create specimen_<id>/ in the bank and go online."""
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    snapshot = lambda: sorted((str(p.relative_to(bank)), p.stat().st_size, p.stat().st_mtime_ns) for p in bank.rglob("*"))
    before = snapshot()
    unknown = 999_999_999
    known = json.loads((bank / "cells.json").read_text())[0]["specimen__id"]
    ids = tmp_path / "ids.csv"
    ids.write_text(f"cell_id\n{unknown}\n{known}\n")
    out = tmp_path / "processed"
    argv = ["preprocess", "--manifest", str(bank / "manifest.json"), "--out", str(out), "--cell-ids", str(ids), "--workers", "1"]
    assert main(argv) == 0
    assert snapshot() == before and not (bank / f"specimen_{unknown}").exists()
    assert attempts == []
    with open(out / "failures.csv", newline="") as handle:
        reasons = {int(row["cell_id"]): row["reason"] for row in csv.DictReader(handle)}
    assert list(reasons) == [unknown] and "not in the local cache" in reasons[unknown] and "download=True" in reasons[unknown]
    assert (out / f"{known}.h5").exists()


def test_a_missing_cell_list_is_not_fetched_offline(bank, tmp_path):
    from gfr_keras.ephys.allen import CellProcessingError, list_cells, open_cache, process_cell
    from gfr_keras.errors import MissingInputError

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    shutil.copy(bank / "manifest.json", cache_dir / "manifest.json")
    cache = open_cache(cache_dir / "manifest.json")
    with pytest.raises(MissingInputError, match="cell list is not on disk") as error:
        list_cells(cache)
    assert error.value.reason == "not_in_cache"
    with pytest.raises(CellProcessingError, match="not in the local cache") as error:
        process_cell(cache, 123)
    assert error.value.reason == "not_in_cache" and error.value.cell_id == 123
    assert sorted(p.name for p in cache_dir.iterdir()) == ["manifest.json"]


def test_a_ramp_without_recorded_voltage_drops_the_cell_with_its_reason(bank, tmp_path):
    """As the published preprocessing (`np.max(np.nonzero(V))` raises): the cell is not processed, the reason is kept."""
    copy = tmp_path / "bank"
    shutil.copytree(bank, copy)
    cell_id = json.loads((copy / "cells.json").read_text())[0]["specimen__id"]
    with h5py.File(copy / f"specimen_{cell_id}" / "ephys.nwb", "a") as handle:
        ramps = [name for name, group in handle["stimulus/presentation"].items()
                 if group["aibs_stimulus_name"][()] == b"Ramp"]
        assert ramps
        for name in ramps:
            response = handle[f"acquisition/timeseries/{name}/data"]
            response[...] = np.zeros(response.shape, response.dtype)
        n_samples = len(handle[f"acquisition/timeseries/{ramps[0]}/data"])
    ids = tmp_path / "ids.csv"
    ids.write_text(f"cell_id\n{cell_id}\n")
    out = tmp_path / "processed"
    # 2, a user error (1 is kept for bugs): every cell asked for failed.
    assert main(["preprocess", "--manifest", str(copy / "manifest.json"), "--out", str(out), "--cell-ids", str(ids)]) == 2
    assert not list(out.glob("*.h5"))
    with open(out / "failures.csv", newline="") as handle:
        reasons = {int(row["cell_id"]): row["reason"] for row in csv.DictReader(handle)}
    sweep = int(ramps[0].split("_")[1])
    assert reasons == {cell_id: f"sweep {sweep}: Ramp sweep: the voltage is 0 mV in all "
                                f"{n_samples} samples (no recorded response)"}

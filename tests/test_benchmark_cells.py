"""benchmarks/: benchmark cells as processed files that `gfr fit` reads at every bin size; the whole-database run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gfr_keras.ephys.processed import read_processed_cell
from gfr_keras.fitting.benchmark_cells import STIMULUS_SWEEPS_MS, write_benchmark_cells
from gfr_keras.fitting.data import activation_pairs, stimulus_groups
from training.cli import main

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

BIN_SIZES_MS = (10, 20, 50, 100)
TINY_PROTOCOL = {"config_name": "tiny", "activation_epochs": 3, "hparams": [{"lr": 1e-2, "epochs": 2}, {"lr": 1e-3, "epochs": 2}]}


@pytest.fixture(scope="module")
def benchmark_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmark_processed")
    paths = write_benchmark_cells(folder, 3, seed=0, chunk_cells=2)  # two chunks: ids must continue across them
    return folder, paths


@pytest.mark.backend_agnostic
def test_files_hold_the_published_shapes_and_one_spike_train_at_every_bin_size(benchmark_folder):
    folder, paths = benchmark_folder
    assert sorted(os.listdir(folder), key=lambda p: int(p[:-3])) == ["1.h5", "2.h5", "3.h5"]
    cells = [read_processed_cell(p) for p in paths]
    for bin_size in BIN_SIZES_MS:
        groups = stimulus_groups(cells, bin_size)
        for name, (n_sweeps, duration_ms) in STIMULUS_SWEEPS_MS.items():
            assert groups[name]["current_pa"].shape == (n_sweeps, duration_ms // bin_size, 3), (name, bin_size)
            assert groups[name]["mask"].all()
    for cell in cells:
        for sweep in cell["sweeps"].values():
            counts = {b: sweep["rate_per_ms"][b] * b for b in BIN_SIZES_MS}
            np.testing.assert_allclose(counts[10], np.round(counts[10]), atol=1e-4)  # whole spikes per bin
            for b in BIN_SIZES_MS[1:]:  # coarser bins count the same spikes
                np.testing.assert_allclose(counts[b], counts[10].reshape(-1, b // 10).sum(1), atol=1e-3)
    assert sum(float(np.sum(s["rate_per_ms"][10])) for s in cells[0]["sweeps"].values()) > 0
    for actv in (20, 100):  # the activation fit's f-I pairs: every Long Square's first bin is on the step
        current, rate, mask = activation_pairs(cells, actv)
        assert mask.sum(axis=0).tolist() == [15, 15, 15] and (current > 0).all()


@pytest.mark.backend_agnostic
def test_gfr_fit_fits_them_at_the_finest_and_coarsest_bins(benchmark_folder, tmp_path):
    """Model bins 10 and 100 ms, activation bins 20 and 100 ms (the data path of every size is checked above)."""
    folder, _ = benchmark_folder
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_PROTOCOL))
    out = tmp_path / "fits_{bin}_{actv}"
    configurations = ((10, 20), (100, 100))
    argv = ["fit", "--processed", str(folder), "--configurations", *(f"{b},{a}" for b, a in configurations),
            "--config", str(config), "--out", str(out)]
    assert main(argv) == 0
    for bin_size, actv in configurations:
        fits = [json.loads(p.read_text()) for p in (tmp_path / f"fits_{bin_size}_{actv}").glob("[0-9]*.json")]
        assert sorted(f["cell_id"] for f in fits) == [1, 2, 3]
        assert all(f["status"] == "ok" and np.isfinite(f["test_evr"]) for f in fits), [f.get("failure_reason") for f in fits]


def test_whole_database_runs_under_jax_without_tensorflow(tmp_path):
    """The GPU machines have JAX and no TensorFlow: the script blocks TensorFlow's import and still fits."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TQDM_DISABLE": "1"}
    argv = [sys.executable, str(BENCHMARKS / "whole_database.py"), "--cells", "4", "--epochs", "2", "--activation-epochs", "2",
            "--configurations", "20,20", "--workers", "2", "--no-tensorflow", "--out", str(tmp_path)]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "whole_database.json").read_text())
    assert [row["configuration"] for row in record["configurations"]] == [[20, 20]]
    assert all(row["cells_ok"] == 4 for row in record["configurations"]) and record["tensorflow_imported"] is False
    assert "jax" in record["machine"] and "(20, 20)" in (tmp_path / "whole_database.md").read_text()
    assert len(list((tmp_path / "processed").glob("*.h5"))) == 4

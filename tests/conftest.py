"""pytest fixtures (the network guard, reference outputs, a synthetic cell bank); plain helpers live in fixtures.py."""

import json
import os
import shutil
import socket
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `gfr` stages run in this process would keep compiled steps in ~/.cache; tests leave no trace there.
os.environ.setdefault("GFR_COMPILATION_CACHE", "off")

import h5py
import pytest

from fixtures import CORRUPT, NO_NOISE_2, NO_SPIKES

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never touch the network: any non-loopback connection fails the test."""
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("localhost", "::1") and not host.startswith("127."):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                raise AssertionError(f"a test tried to open a network connection to {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(scope="session")
def reference():
    """Outputs of the published PyTorch implementation (see tests/data/README.md)."""
    with open(DATA / "gfr_reference_vectors.json") as handle:
        return json.load(handle)


# -- a synthetic cell bank, made once per session by the real commands ------------------

@pytest.fixture(scope="session")
def bank(tmp_path_factory):
    """Three synthetic cells, made by the real command (simulations at 50 kHz, NWB files)."""
    out = tmp_path_factory.mktemp("bank")
    assert _gfr(["synth-cells", "--n", "3", "--seed", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def broken_bank(bank, tmp_path_factory):
    """The bank plus a truncated NWB, a cell without Noise 2 and a cell without spikes."""
    out = tmp_path_factory.mktemp("broken_bank")
    shutil.copytree(bank, out, dirs_exist_ok=True)
    cells = json.loads((out / "cells.json").read_text())
    source_id = cells[0]["specimen__id"]
    source = out / f"specimen_{source_id}"
    for new_id in (CORRUPT, NO_NOISE_2, NO_SPIKES):
        shutil.copytree(source, out / f"specimen_{new_id}")
        cells.append({**cells[0], "specimen__id": new_id})
    (out / "cells.json").write_text(json.dumps(cells))
    corrupt = out / f"specimen_{CORRUPT}" / "ephys.nwb"
    corrupt.write_bytes(corrupt.read_bytes()[: corrupt.stat().st_size // 3])
    with h5py.File(out / f"specimen_{NO_NOISE_2}" / "ephys.nwb", "a") as handle:
        for name, group in list(handle["stimulus/presentation"].items()):
            if group["aibs_stimulus_name"][()] == b"Noise 2":
                number = name.split("_")[1]
                del handle[f"epochs/Sweep_{number}"], handle[f"epochs/Experiment_{number}"]
    with h5py.File(out / f"specimen_{NO_SPIKES}" / "ephys.nwb", "a") as handle:
        del handle["analysis/spike_times"]
    return out


@pytest.fixture(scope="session")
def processed(bank, tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    assert _gfr(["preprocess", "--manifest", str(bank / "manifest.json"), "--out", str(out), "--plots"]) == 0
    return out


@pytest.fixture(scope="session")
def fits_20_20(processed, tmp_path_factory):
    """`gfr fit` of the processed bank at (20, 20) with the packaged quick protocol ("test").

    Shared read-only: a test that changes a fit folder works on a copy of it.
    """
    out = tmp_path_factory.mktemp("fits_20_20")
    argv = ["fit", "--processed", str(processed), "--bin-size", "20", "--activation-bin-size", "20", "--config", "test"]
    assert _gfr([*argv, "--out", str(out)]) == 0
    return out


def _gfr(argv):
    from training.cli import main

    return main(argv)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (the report tests' browser)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (`make env` installs it: apt-get install -y chromium)")
    with sync_playwright() as playwright:
        # No DNS at all, on top of each test's per-request block: nothing can leave the machine.
        launched = playwright.chromium.launch(executable_path=executable, args=["--host-resolver-rules=MAP * ~NOTFOUND"])
        yield launched
        launched.close()

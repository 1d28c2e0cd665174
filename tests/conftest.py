import json
import os
import shutil
import socket
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py
import numpy as np
import pytest

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


def numpy_gfr(params, currents_pa):
    """The spec's recurrence in float64 numpy, one step at a time: an independent oracle.

    Returns rates `[batch, time]` (1/ms) and traces `[batch, time, n]`.
    """
    alpha = np.array(params["a"][0])
    beta = np.array(params["b"][0])
    lam = np.array(params["ds"])
    g = params["g"]
    coeff = np.array(g["poly_coeff"][0]) ** 2
    currents_pa = np.asarray(currents_pa, dtype=np.float64)
    rates = np.zeros(currents_pa.shape)
    traces = np.zeros(currents_pa.shape + (len(lam),))
    for r in range(currents_pa.shape[0]):
        h = np.zeros(len(lam))
        f = 0.0
        for t in range(currents_pa.shape[1]):
            h = (1 - lam) * h + alpha * currents_pa[r, t] + 1000 * beta * f
            x = (h.mean() - g["b"][0]) / g["max_current"][0]
            poly = sum(c * x**k for k, c in enumerate(coeff))
            f = max(0.0, g["max_firing_rate"][0] * np.tanh(poly))
            rates[r, t] = f
            traces[r, t] = h
    return rates, traces


def numpy_activation(g, z_pa):
    x = (np.asarray(z_pa, dtype=np.float64) - g["b"][0]) / g["max_current"][0]
    coeff = np.array(g["poly_coeff"][0]) ** 2
    poly = sum(c * x**k for k, c in enumerate(coeff))
    return np.maximum(0.0, g["max_firing_rate"][0] * np.tanh(poly))


FLOAT32_EPS = float(np.finfo(np.float32).eps)


def float32_rate_error_scale(params, traces):
    """How far float32 rounding alone can move the rate at each step, in 1/ms.

    Rounding perturbs `z = mean(h)` by about `eps * mean(|h|)` and the polynomial
    by about `eps * sum_k |c_k^2 x^k|`; the rate moves by those times the slope of
    `gamma * tanh`. Near the threshold, where `z - b` and the polynomial's terms
    cancel, this exceeds 1e-4 of the rate for any float32 implementation,
    the published one included. Returns 16x that estimate (a few roundings each).
    """
    g = params["g"]
    coeff = np.array(g["poly_coeff"][0]) ** 2
    z = traces.mean(axis=-1)
    x = (z - g["b"][0]) / g["max_current"][0]
    terms = np.stack([c * x**k for k, c in enumerate(coeff)])
    poly = terms.sum(axis=0)
    slope_poly = sum(k * c * x ** (k - 1) for k, c in enumerate(coeff) if k > 0)
    dtanh = g["max_firing_rate"][0] * (1 - np.tanh(poly) ** 2)
    z_error = FLOAT32_EPS * np.abs(traces).mean(axis=-1) + FLOAT32_EPS * np.abs(z - g["b"][0])
    poly_error = np.abs(slope_poly) * z_error / g["max_current"][0] + FLOAT32_EPS * np.abs(terms).sum(axis=0)
    return 16 * dtanh * poly_error


# -- a synthetic cell bank, made once per session by the real commands ------------------

CORRUPT, NO_NOISE_2, NO_SPIKES = 900000001, 900000002, 900000003


@pytest.fixture(scope="session")
def bank(tmp_path_factory):
    """Three synthetic cells, made by the real command (GLIF simulations, NWB files)."""
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




def _gfr(argv):
    from training.cli import main

    return main(argv)

"""Helpers the tests share: independent numpy oracles of the model, the ids of the broken cells, the
repository's scripts (benchmarks/, notebooks/) loaded from their files, and commands run beside the tests.

Imported by tests as `from fixtures import ...` (pytest puts tests/ on the path);
pytest fixtures themselves live in conftest.py.
"""

import functools
import importlib.util
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Cell ids of the broken bank (conftest.broken_bank): a truncated NWB, no Noise 2, no spikes.
CORRUPT, NO_NOISE_2, NO_SPIKES = 900000001, 900000002, 900000003


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


@functools.cache
def load_script(relative_path):
    """A script of the repository (`"benchmarks/fit_throughput.py"`) as a module, loaded once from its file.

    The scripts in benchmarks/ and notebooks/ are not packages; what they share with the library lives in
    the library (`gfr_keras.comparison`, `gfr_keras.fitting.benchmark_cells`). Their own functions are tested
    from the file itself, without putting its folder on `sys.path` (where its names would shadow others).
    """
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(f"_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def selected(request, *test_names):
    """Whether this session runs a test of `request`'s module named one of `test_names` (parameters aside)."""
    return any(getattr(item, "module", None) is request.module and item.name.split("[")[0] in test_names
               for item in request.session.items)


class BackgroundCommand:
    """A command started now that runs while the tests go on, for a test to wait on later.

    Used where a test needs its own process (a fresh interpreter, another backend, devices set before
    TensorFlow starts): started with its module, it runs beside that module's in-process tests, which
    leave one of two cores idle. Its output goes to files (`<name>.stdout`, `<name>.stderr` in `folder`):
    a pipe that nobody reads could fill and stall it.
    """

    def __init__(self, argv, folder, name, **popen_keywords):
        self.paths = [Path(folder) / f"{name}.{stream}" for stream in ("stdout", "stderr")]
        self._files = [open(path, "w") for path in self.paths]
        self.process = subprocess.Popen(argv, stdout=self._files[0], stderr=self._files[1], text=True, **popen_keywords)

    def wait(self, timeout_s=600):
        """`(exit status, stdout, stderr)` once the command has finished (at most `timeout_s` from now)."""
        code = self.process.wait(timeout=timeout_s)
        self._close()
        return (code, *(path.read_text() for path in self.paths))

    def stop(self):
        """Kills the command if it still runs (a test that failed before waiting on it)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self):
        for handle in self._files:
            handle.close()

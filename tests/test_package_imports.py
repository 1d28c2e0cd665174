"""`import gfr_keras` is light (names imported on first use) and `.keras` files still load.

Each check runs in a fresh interpreter: the test process itself has Keras loaded.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _start(code):
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _last_line(process, timeout=300):
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stdout[-2000:] + stderr[-3000:]
    return stdout.strip().splitlines()[-1]


def _python(code, timeout=300):
    return _last_line(_start(code), timeout)


def test_import_gfr_keras_and_keras_free_modules_do_not_import_tensorflow():
    code = """
import sys
import gfr_keras as gk
from gfr_keras.dataset import build_records, read_fits, read_dataset, MIN_VAL_EVR
from gfr_keras.ephys import pipeline, spiking_bank, synthetic
from gfr_keras.neurons import CONFIGURATIONS, validate_params
records = gk.read_dataset(gk.SHIPPED_DATASET_PATH)
assert gk.dataset.fits.FitStatus.OK and (20, 20) in CONFIGURATIONS and records
assert "GFRCell" in dir(gk) and "GFRCell" in gk.__all__
try:
    gk.NoSuchName
except AttributeError as error:
    assert "NoSuchName" in str(error)
print(sorted(m for m in ("keras", "tensorflow", "jax") if m in sys.modules))
"""
    assert _python(code) == "[]"


def test_keras_files_load_when_keras_is_imported_after_gfr_keras(tmp_path):
    """The user's `import gfr_keras` then `import keras`: the layers and ScaledAdam are registered."""
    code = f"""
import sys
import gfr_keras as gk
assert "keras" not in sys.modules
import keras
import numpy as np
network = gk.build_gfr_network(6, seed=1)
gk.compile_network(network)
x = np.random.default_rng(0).uniform(size=(2, 28, 28)).astype("float32")
network.save(r"{tmp_path / 'net.keras'}")
expected = np.asarray(network(x)["probabilities"])
print(expected.tolist())
"""
    saved = _python(code)
    load = f"""
import gfr_keras
import keras
import numpy as np
loaded = keras.saving.load_model(r"{tmp_path / 'net.keras'}")
x = np.random.default_rng(0).uniform(size=(2, 28, 28)).astype("float32")
print(type(loaded.optimizer).__name__, type(loaded.get_layer("gfr_rnn")).__name__, np.asarray(loaded(x)["probabilities"]).tolist())
"""
    optimizer, layer, probabilities = _python(load).split(" ", 2)
    assert layer == "GFRNetworkRNN"
    assert optimizer == "ScaledAdam"  # the compiled optimizer (a registered class) came back as saved
    assert probabilities == saved


def test_keras_classes_registered_when_a_gfr_keras_module_imports_keras_first():
    """Keras imported by gfr_keras itself (half-way through `gfr_keras.neurons.layer`): every class
    is registered once that import is done, with no circular import on the way."""
    names = ["GFR", "GFRCell", "OneHot", "PolynomialActivation", "GFRModel", "GFRNetworkRNN", "ReadoutCrossentropy", "ScaledAdam"]
    # One fresh interpreter per way in, started together (each pays Keras' import).
    processes = {}
    for first in ("import gfr_keras as gk; gk.GFR(3)", "from gfr_keras.neurons.layer import GFR"):
        processes[first] = _start(f"""
import sys
{first}
assert "keras" in sys.modules
import keras
print([n for n in {names!r} if keras.saving.get_registered_object("gfr_keras>" + n) is None])
""")
    for first, process in processes.items():
        assert _last_line(process) == "[]", first


def test_no_test_or_script_puts_a_folder_on_the_import_path():
    """Tests import the library, and load a script of benchmarks/ or notebooks/ from its file
    (`fixtures.load_script`); none adds a folder to `sys.path`, where its modules would shadow others."""
    edits = re.compile(r"sys\.path\.(insert|append|extend)|sys\.path\s*[+]?=")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("tests", "benchmarks", "notebooks", "training")
        for path in sorted((ROOT / folder).glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if edits.search(line)
    ]
    assert not found, found


def test_attach_lazily_derives_the_submodules_from_the_names_table():
    """A package names each submodule once: as a key of its names (dotted keys give their first part) or
    among `other_modules`; each name is imported from its module when first read."""
    from gfr_keras._lazy_package import attach_lazily
    from gfr_keras.fitting.config import FitConfig
    from gfr_keras.units import HZ_PER_PER_MS

    getattr_, dir_, all_ = attach_lazily(
        "gfr_keras", {"units": "HZ_PER_PER_MS", "fitting.config": "FitConfig load_fit_config"}, other_modules=("errors",)
    )
    assert all_ == ["FitConfig", "HZ_PER_PER_MS", "errors", "fitting", "load_fit_config", "units"]
    assert dir_() == all_
    assert getattr_("HZ_PER_PER_MS") == HZ_PER_PER_MS and getattr_("FitConfig") is FitConfig
    assert getattr_("errors").__name__ == "gfr_keras.errors" and getattr_("fitting").__name__ == "gfr_keras.fitting"

"""The persistent compilation cache: a second process finds the steps the first compiled."""

import os
import subprocess
import sys

import pytest

from gfr_keras.compilation_cache import cache_setting_from_environment, default_cache_directory

pytestmark = pytest.mark.backend_agnostic

SCRIPT = """
import sys
import keras, numpy as np
from gfr_keras import enable_compilation_cache
print(enable_compilation_cache(sys.argv[1], min_compile_time_s=0))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.compile("sgd", "mse", jit_compile=True)
model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), batch_size=4, verbose=0)
"""


def _entries(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names)


def test_a_second_process_reuses_the_compiled_steps(tmp_path):
    run = lambda: subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, check=True)
    folder = run().stdout.strip().splitlines()[-1]
    assert os.path.dirname(folder) == str(tmp_path) and os.path.basename(folder) in ("tensorflow", "jax")
    first = _entries(folder)
    assert first, f"nothing cached in {folder}"
    run()
    assert _entries(folder) == first  # the same steps, found: nothing compiled and written again


def test_gfr_reads_its_setting_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("GFR_COMPILATION_CACHE", raising=False)
    assert cache_setting_from_environment() == (True, None)
    monkeypatch.setenv("GFR_COMPILATION_CACHE", "off")
    assert cache_setting_from_environment() == (False, None)
    monkeypatch.setenv("GFR_COMPILATION_CACHE", str(tmp_path))
    assert cache_setting_from_environment() == (True, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_directory() == os.path.join(str(tmp_path), "gfr", "compiled")


def test_a_folder_already_given_to_tensorflow_is_the_one_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_XLA_FLAGS", f"--tf_xla_persistent_cache_directory={tmp_path / 'mine'}")
    from gfr_keras.compilation_cache import enable_compilation_cache

    assert enable_compilation_cache(tmp_path / "other", backend="tensorflow") == str(tmp_path / "mine")
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_persistent_cache_directory={tmp_path / 'mine'}"


CLI_SCRIPT = """
import os, sys
os.environ["GFR_COMPILATION_CACHE"] = sys.argv[1]
from training.cli import _load_libraries
_load_libraries()  # what every `gfr` stage that uses Keras runs first
import keras, numpy as np
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.compile("sgd", "mse", jit_compile=True)
model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), batch_size=4, verbose=0)
"""


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                    reason="JAX keeps only steps that took a second to compile; TensorFlow keeps every one")
def test_the_gfr_command_fills_the_cache_it_names(tmp_path):
    # TensorFlow reads TF_XLA_FLAGS when it sets up its devices: set after the first op, nothing is cached.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", CLI_SCRIPT, str(tmp_path)], cwd=root, capture_output=True, text=True, check=True)
    assert _entries(tmp_path / "tensorflow"), "gfr's cache folder stayed empty: the XLA flag was set too late"

"""The project as a user meets it: the README's quickstart and the environment."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_quickstart_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks, "the README has no python quickstart"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile("\n".join(blocks), "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert f"cell {namespace['cell_id']}: threshold" in out
    first, last, floor = (float(x) for x in re.search(r"Poisson loss (\S+) -> (\S+) \(teacher's own: (\S+)\)", out).groups())
    # The student learns, and ends much closer to the teacher's own loss than it started.
    assert floor <= last < first and (last - floor) < 0.5 * (first - floor)
    assert namespace["traces"].shape == (1, 200, 1, 8)


def test_allensdk_and_tensorflow_work_together(tmp_path):
    import numpy as np
    import tensorflow as tf
    from allensdk.core.cell_types_cache import CellTypesCache

    assert tf.__version__.startswith("2.21")
    # allensdk builds its offline manifest beside TensorFlow, with this numpy.
    cache = CellTypesCache(manifest_file=str(tmp_path / "manifest.json"))
    assert (tmp_path / "manifest.json").exists()
    assert cache.get_cache_path(None, "CELLS").startswith(str(tmp_path))
    assert float(tf.reduce_sum(tf.constant(np.arange(4.0)))) == 6.0


def test_network_connections_fail_the_tests():
    import socket

    import pytest

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(AssertionError, match="a test tried to open a network connection"):
            sock.connect(("93.184.216.34", 80))

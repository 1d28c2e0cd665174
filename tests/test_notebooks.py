"""The notebooks run top to bottom, offline, in a fresh kernel and folder (as committed)."""

import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "notebooks"))
from execute import execute_notebook, notebook_paths  # noqa: E402

EXPECTED = ["01_quickstart.ipynb", "02_dataset.ipynb", "03_cell_types.ipynb", "04_lmnist.ipynb"]
PATHS = {os.path.basename(path): path for path in notebook_paths()}
ABSOLUTE_PATH = re.compile(r"(/work/|/home/|/tmp/|/Users/|[A-Z]:\\\\)")


def test_all_notebooks_present():
    assert sorted(PATHS) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_with_outputs(name):
    """Browsing the repository shows every cell's output and the figures; no machine paths."""
    with open(PATHS[name]) as handle:
        text = handle.read()
    notebook = json.loads(text)
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, name
    counts = [cell["execution_count"] for cell in code]
    assert all(count is not None for count in counts), f"{name}: unexecuted cells"
    assert counts == sorted(counts), f"{name}: cells were not run top to bottom in one kernel"
    images = [out for cell in code for out in cell["outputs"] if "image/png" in out.get("data", {})]
    assert images, f"{name}: no figure in the committed outputs"
    errors = [out for cell in code for out in cell["outputs"] if out["output_type"] == "error"]
    assert not errors, f"{name}: committed with an error output"
    assert not ABSOLUTE_PATH.search(text), f"{name}: an absolute path: {ABSOLUTE_PATH.search(text).group(0)}"
    assert "GFR_QUICK" in text, f"{name}: no QUICK setting"


@pytest.mark.parametrize("name", EXPECTED)
def test_executes(name):
    notebook, seconds = execute_notebook(PATHS[name], quick=True)
    print(f"{name}: {seconds:.1f} s")
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert any("image/png" in out.get("data", {}) for cell in code for out in cell["outputs"])

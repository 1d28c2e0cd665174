"""The notebooks run top to bottom, offline, in a fresh kernel and folder (as committed)."""

import json
import os
import re

import pytest
from fixtures import load_script

# The runner `make notebooks` uses (notebooks/execute.py), so the test runs the notebooks as it does.
runner = load_script("notebooks/execute.py")
execute_notebook, notebook_paths = runner.execute_notebook, runner.notebook_paths

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


#: A number in an output, and the parts of outputs that are not results: durations and sizes, which change
#: from run to run, and the logging TensorFlow writes (timestamps, process ids).
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)
NOT_RESULTS = re.compile(
    r"\d+(?:\.\d+)?\s*(?:s|kB|MB|GB|B)\b(?:/cell)?|\d+(?:\.\d+)?\s*(?:cells?/s|samples/s)|^[IWE]\d{4}.*$|^WARNING:.*$",
    re.MULTILINE,
)
#: Fresh against committed: a number quoted with d decimals may move by 5 units of its last digit or 2 % of
#: itself (training on another CPU rounds differently); integers (counts, ids) must be equal.
RELATIVE_TOLERANCE = 0.02


def without_timing_columns(text):
    """Markdown tables with the columns whose header names a time ("training time (s)") blanked."""
    lines, timing = text.splitlines(), None
    for index, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            timing = None
            continue
        cells = line.strip().strip("|").split("|")
        if timing is None:  # a table's header row
            timing = {i for i, cell in enumerate(cells) if re.search(r"\btime\b|\(s\)|seconds", cell, re.IGNORECASE)}
        lines[index] = "|".join("" if i in timing else cell for i, cell in enumerate(cells))
    return "\n".join(lines)


def output_numbers(cell):
    """The numbers a code cell's outputs show: printed text, tables and generated Markdown (not stderr, not figures)."""
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            texts.append("".join(output["text"]))
        data = output.get("data", {})
        for kind in ("text/markdown", "text/plain"):
            if kind in data and not ("image/png" in data and kind == "text/plain"):
                texts.append("".join(data[kind]))
                break
    text = NOT_RESULTS.sub(" ", without_timing_columns(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(texts))))
    return [number.replace(",", "") for number in NUMBER.findall(text)]


def same_number(committed, fresh):
    if not re.search(r"[.e]", committed, re.IGNORECASE):
        return committed == fresh
    decimals = len(committed.split(".")[1].split("e")[0].split("E")[0]) if "." in committed else 0
    a, b = float(committed), float(fresh)
    return abs(a - b) <= max(5 * 10.0 ** -decimals, RELATIVE_TOLERANCE * abs(a))


def drift(committed_notebook, fresh_notebook):
    """`(cell index, committed, fresh)` for every output number the fresh run no longer gives."""
    problems = []
    committed_cells, fresh_cells = committed_notebook["cells"], fresh_notebook["cells"]
    assert len(committed_cells) == len(fresh_cells)
    for index, (old, new) in enumerate(zip(committed_cells, fresh_cells)):
        if old["cell_type"] != "code":
            continue
        before, after = output_numbers(old), output_numbers(new)
        if len(before) != len(after):
            problems.append((index, f"{len(before)} numbers", f"{len(after)} numbers"))
            continue
        problems += [(index, a, b) for a, b in zip(before, after) if not same_number(a, b)]
    return problems


def test_output_numbers_are_compared_within_the_stated_tolerance():
    cell = lambda text: {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}
    notebook = lambda *texts: {"cells": [cell(t) for t in texts]}
    committed = notebook("test EVR 0.668 of 136 cells, 3 epochs in 5.6 s, 13.2 kB", "accuracy 0.426")
    assert drift(committed, notebook("test EVR 0.670 of 136 cells, 3 epochs in 9.1 s, 14.0 kB", "accuracy 0.431")) == []
    assert drift(committed, notebook("test EVR 0.690 of 136 cells, 3 epochs in 5.6 s, 13.2 kB", "accuracy 0.426")) == [
        (0, "0.668", "0.690")]
    assert drift(committed, notebook("test EVR 0.668 of 137 cells, 3 epochs in 5.6 s, 13.2 kB", "accuracy 0.426")) == [
        (0, "136", "137")]
    assert drift(committed, notebook("test EVR 0.668 of 136 cells, 3 epochs in 1 s", "accuracy 0.426 and 0.5")) == [
        (1, "1 numbers", "2 numbers")]
    table = "| run | accuracy | training time (s) |\n|---|---:|---:|\n| GFR | {} | {} |"
    assert drift(notebook(table.format("0.404", "5.6")), notebook(table.format("0.404", "7.9"))) == []
    assert drift(notebook(table.format("0.404", "5.6")), notebook(table.format("0.504", "5.6"))) == [(0, "0.404", "0.504")]


def _execute_or_error(path):
    try:
        return execute_notebook(path, quick=True), None
    except Exception as error:  # reported by the notebook's own test
        return None, error


@pytest.fixture(scope="module")
def executed():
    """Every notebook executed once (GFR_QUICK=1), two at a time: each runs in its own kernel and folder,
    and most of a run is kernel start-up and imports, which two kernels overlap on two cores."""
    from concurrent.futures import ThreadPoolExecutor

    # Set for the whole pool: execute_notebook restores the previous value, which threads would otherwise race on.
    previous = os.environ.get("GFR_QUICK")
    os.environ["GFR_QUICK"] = "1"
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return dict(zip(EXPECTED, pool.map(_execute_or_error, [PATHS[name] for name in EXPECTED])))
    finally:
        if previous is None:
            os.environ.pop("GFR_QUICK", None)
        else:
            os.environ["GFR_QUICK"] = previous


@pytest.mark.parametrize("name", EXPECTED)
def test_executes_and_gives_the_committed_numbers(name, executed):
    """A fresh run (GFR_QUICK=1, as committed) shows the numbers the committed outputs quote, within the tolerance."""
    import nbformat

    result, error = executed[name]
    if error is not None:
        raise error
    notebook, seconds = result
    print(f"{name}: {seconds:.1f} s")
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert any("image/png" in out.get("data", {}) for cell in code for out in cell["outputs"])
    problems = drift(nbformat.read(PATHS[name], as_version=4), notebook)
    assert not problems, f"{name}: the committed outputs no longer match a fresh run (cell, committed, fresh): {problems[:20]}"

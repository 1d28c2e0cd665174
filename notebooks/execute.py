"""Execute the notebooks the way CI does, and (optionally) write them back with their outputs.

Each notebook runs top to bottom in a fresh kernel whose working directory is a
new empty folder (so nothing it writes lands in the repository and no state is
shared between notebooks), with ``GFR_QUICK=1`` unless told otherwise. The
committed notebooks are produced by

    uv run python notebooks/execute.py --write            # all four, in place
    uv run python notebooks/execute.py 02_dataset.ipynb   # run one, write nothing

and `tests/test_notebooks.py` calls `execute_notebook` the same way.
"""

import argparse
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

NOTEBOOK_DIR = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_PER_CELL_S = 600


def notebook_paths():
    """The notebooks in run order (`NN_name.ipynb`)."""
    names = sorted(name for name in os.listdir(NOTEBOOK_DIR) if name.endswith(".ipynb") and name[:2].isdigit())
    return [os.path.join(NOTEBOOK_DIR, name) for name in names]


def execute_notebook(path, quick=True, workdir=None):
    """Run `path` in a fresh kernel inside `workdir` (a new temporary folder by default).

    Returns `(executed_notebook, seconds)`. Raises `nbclient.exceptions.CellExecutionError`
    naming the cell when a cell raises.
    """
    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get("GFR_QUICK")
    os.environ["GFR_QUICK"] = "1" if quick else "0"
    try:
        with tempfile.TemporaryDirectory(prefix="gfr_notebook_") as scratch:
            client = NotebookClient(
                notebook,
                timeout=TIMEOUT_PER_CELL_S,
                kernel_name="python3",
                resources={"metadata": {"path": workdir or scratch}},
            )
            start = time.perf_counter()
            client.execute()
            seconds = time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("GFR_QUICK", None)
        else:
            os.environ["GFR_QUICK"] = previous
    return notebook, seconds


def write_notebook_atomic(notebook, path):
    from gfr_keras.io_utils import atomic_path  # the project's one atomic writer

    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="names in notebooks/ (default: all)")
    parser.add_argument("--write", action="store_true", help="write the executed notebooks back in place")
    parser.add_argument("--full", action="store_true", help="GFR_QUICK=0: the full-size runs (long)")
    args = parser.parse_args(argv)
    paths = [os.path.join(NOTEBOOK_DIR, name) for name in args.notebooks] or notebook_paths()
    for path in paths:
        notebook, seconds = execute_notebook(path, quick=not args.full)
        print(f"{os.path.basename(path)}: {seconds:.1f} s", flush=True)
        if args.write:
            write_notebook_atomic(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

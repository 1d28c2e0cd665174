"""The shipped dataset's numbers, as the docs quote them, read from the docs and from the data.

Both sides are read at test time (no number is written here), so rebuilding the
dataset without updating `gfr_keras/resources/README.md` and `docs/benchmarks.md`,
or editing a table without rebuilding, fails here.
"""

import re
from pathlib import Path

import numpy as np
import pytest

import gfr_keras as gk

ROOT = Path(__file__).resolve().parents[1]
RESOURCES_README = ROOT / "gfr_keras" / "resources" / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
#: Quoted to 3 decimals: the data's median within half a unit of the last digit.
EVR_TOLERANCE = 0.0005 + 1e-9


def markdown_table(path, first_headers):
    """The rows (dicts of cell text, `**` removed) of the first table in `path` whose header starts with `first_headers`."""
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells[: len(first_headers)] == list(first_headers):
            rows = []
            for row in lines[index + 2 :]:
                if not row.lstrip().startswith("|"):
                    break
                values = [c.strip().replace("**", "") for c in row.strip().strip("|").split("|")]
                rows.append(dict(zip(cells, values)))
            return rows
    raise AssertionError(f"{path}: no table whose header starts with {first_headers}")


@pytest.fixture(scope="module")
def shipped():
    table = gk.parameter_table(gk.SHIPPED_DATASET_PATH)
    return {key: group for key, group in table.groupby(["bin_size_ms", "activation_bin_size_ms"])}


def test_resources_readme_quotes_the_shipped_dataset(shipped):
    rows = markdown_table(RESOURCES_README, ["bin size", "activation bin size", "cells fitted", "in dataset"])
    assert {(int(r["bin size"]), int(r["activation bin size"])) for r in rows} == set(shipped)
    total = re.search(r"(\d+) records pass the published filters", RESOURCES_README.read_text())
    assert total and int(total.group(1)) == sum(len(g) for g in shipped.values())
    for row in rows:
        group = shipped[(int(row["bin size"]), int(row["activation bin size"]))]
        assert int(row["in dataset"]) == len(group), row
        quoted = float(row["median test EVR, in dataset"])
        assert abs(np.median(group["test_evr"]) - quoted) <= EVR_TOLERANCE, (row, np.median(group["test_evr"]))


def test_benchmarks_quote_the_shipped_dataset_by_species(shipped):
    """docs/benchmarks.md's dataset table: counts, the in-dataset median (the (20, 20) figure against the
    published 0.77) and the mouse / human split."""
    rows = markdown_table(BENCHMARKS, ["bin size", "activation bin size", "cells fitted", "in dataset (fraction)"])
    assert {(int(r["bin size"]), int(r["activation bin size"])) for r in rows} == set(shipped)
    for row in rows:
        group = shipped[(int(row["bin size"]), int(row["activation bin size"]))]
        assert int(row["in dataset (fraction)"].split()[0]) == len(group), row
        assert abs(np.median(group["test_evr"]) - float(row["median test EVR, in dataset"])) <= EVR_TOLERANCE, row
        split = re.fullmatch(r"(\d+) \(([\d.]+)\) / (\d+) \(([\d.]+)\)", row["mouse / human in dataset (median test EVR)"])
        assert split, row
        for species, count, median in (("Mus musculus", split[1], split[2]), ("Homo Sapiens", split[3], split[4])):
            evrs = group.loc[group["species"] == species, "test_evr"]
            assert len(evrs) == int(count) and abs(np.median(evrs) - float(median)) <= EVR_TOLERANCE, (row, species)

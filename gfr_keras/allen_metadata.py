"""The Allen Cell Types metadata table shipped with the package: its path, the table, species by cell.

One row per cell of the Allen Cell Types Database (2,333 cells; see
`gfr_keras/resources/README.md`): specimen id, species, transgenic line and
electrophysiology features. The synthetic banks (`gfr_keras.ephys.cell_bank`)
build their cells from it; the dataset's table (`gfr_keras.dataset.table`) and
the report (`gfr_keras.report.data`) look species up in it.

A base module (pandas only): `dataset/`, `ephys/` and `report/` may all import it.
"""

import functools
from importlib import resources

import pandas as pd

ALLEN_METADATA_PATH = resources.files("gfr_keras") / "resources" / "allen_cell_types_metadata.csv"


def load_allen_metadata(path=None):
    """The Allen cell table (one row per cell; `path`, default the shipped table) as a DataFrame."""
    return pd.read_csv(path or ALLEN_METADATA_PATH)


@functools.lru_cache(maxsize=1)
def species_by_cell():
    """`{specimen id: species}` of the shipped table (e.g. "Mus musculus", "Homo Sapiens"); read once."""
    table = pd.read_csv(ALLEN_METADATA_PATH, usecols=["specimen__id", "donor__species"])
    return dict(zip(table["specimen__id"].astype(int), table["donor__species"]))

"""What both synthetic cell banks share: choosing real cells, and the CellTypesCache folder they write.

A bank (`gfr synth-cells`) builds one synthetic cell from each of some real cells
of the Allen metadata table (`gfr_keras.allen_metadata`) and writes them as a
`CellTypesCache` directory that allensdk reads offline:

    manifest.json                 allensdk's own layout (`write_cache_index`)
    cells.json                    the real cells' metadata rows (`write_cache_index`)
    bank.json                     what the bank is, for provenance (`write_bank_description`)
    specimen_<id>/ephys.nwb       the recordings, NWB 1 (`cell_files`)
    specimen_<id>/ephys_sweeps.json  the sweep table (`write_sweep_table`)
    nwb2/<id>.nwb                 the recordings, NWB 2 (spiking bank, optional)

Each bank's neuron model is a module with the same two functions:
`choose_cells(metadata, n_cells, seed, per_line=1)` (the rows with every
feature the model is built from) and `write_cells(cache_dir, rows,
sampling_rate_hz, seed=0, noise_repeats=3, formats=("nwb1",))`:
`gfr_keras.ephys.spiking_bank` (integrate-and-fire cells with action potentials)
and `gfr_keras.ephys.synthetic` (allensdk's GLIF cells); `gfr_keras.ephys.bank_models`
names them.
"""

import math
import os

import numpy as np

from gfr_keras.io_utils import write_json_atomic

#: `write_cells`' `formats`, by the name `gfr synth-cells --format` gives: the CellTypesCache's NWB 1
#: file, an NWB 2 file, or both.
FORMATS = {"nwb1": ("nwb1",), "nwb2": ("nwb2",), "both": ("nwb1", "nwb2")}

#: The bank description `gfr synth-cells` writes beside the manifest: the provenance
#: source (`gfr_keras.dataset.provenance.synthetic_source`) that `gfr preprocess` records.
BANK_DESCRIPTION = "bank.json"


def choose_cells(metadata, n_cells, seed, required, per_line=1):
    """`n_cells` real cells with every column of `required` known, mixing species and cre lines.

    Deterministic for a seed: about a third human cells, the mouse cells spread
    over distinct transgenic lines first (`per_line` cells of each line, or all
    the line has, so that a classifier of cre lines has several cells per line).

    Args:
        metadata: the Allen table (`gfr_keras.allen_metadata.load_allen_metadata`).
        required: the metadata columns a cell must have (the model's features).

    Returns:
        DataFrame of the chosen rows, index reset.
    """
    complete = metadata.dropna(subset=list(required)).copy()
    complete = complete[(complete["ef__ri"] > 0) & (complete["ef__tau"] > 0) & (complete["ef__threshold_i_long_square"] > 0)]
    rng = np.random.default_rng(seed)
    human = complete[complete["donor__species"] == "Homo Sapiens"]
    mouse = complete[complete["donor__species"] != "Homo Sapiens"]
    n_human = min(len(human), n_cells // 3)
    chosen = list(human.sample(n_human, random_state=rng.integers(2**31)).index) if n_human else []
    if per_line == 1:
        lines = mouse.groupby("line_name").sample(1, random_state=rng.integers(2**31))
    else:
        state = int(rng.integers(2**31))
        lines = mouse.groupby("line_name", group_keys=False)[list(mouse.columns)].apply(
            lambda group: group.sample(min(per_line, len(group)), random_state=state)
        )
    lines = lines.sample(frac=1.0, random_state=rng.integers(2**31))
    chosen += list(lines.index[: n_cells - len(chosen)])
    if len(chosen) < n_cells:
        rest = complete.drop(index=chosen)
        chosen += list(rest.sample(n_cells - len(chosen), random_state=rng.integers(2**31)).index)
    return complete.loc[chosen].reset_index(drop=True)


def json_row(row):
    """A metadata row as JSON values (NaN as null)."""
    return {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()}


def write_cache_index(cache_dir, rows):
    """`manifest.json` (allensdk's own layout) and `cells.json` (the real cells' records); the manifest's path."""
    from allensdk.core.cell_types_cache import CellTypesCache

    os.makedirs(cache_dir, exist_ok=True)
    manifest = os.path.join(cache_dir, "manifest.json")
    CellTypesCache(manifest_file=manifest).build_manifest(manifest)
    write_json_atomic([json_row(row) for row in rows], os.path.join(cache_dir, "cells.json"), indent=1)
    return manifest


def write_bank_description(cache_dir, source):
    """`cache_dir/bank.json`: what the bank is (model, seed, sampling rate, ...), for provenance."""
    path = os.path.join(cache_dir, BANK_DESCRIPTION)
    write_json_atomic(source, path, indent=1)
    return path


def cell_folder(cache_dir, cell_id):
    """`cache_dir/specimen_<id>/`, created: a cell's folder in the CellTypesCache layout."""
    folder = os.path.join(cache_dir, f"specimen_{int(cell_id)}")
    os.makedirs(folder, exist_ok=True)
    return folder


def cell_files(cache_dir, cell_id, formats=("nwb1",)):
    """The recording files of a cell, by format: `specimen_<id>/ephys.nwb` (NWB 1), `nwb2/<id>.nwb` (NWB 2)."""
    paths = {"nwb1": os.path.join(cache_dir, f"specimen_{int(cell_id)}", "ephys.nwb"),
             "nwb2": os.path.join(cache_dir, "nwb2", f"{int(cell_id)}.nwb")}
    return [paths[name] for name in formats]


def write_sweep_table(folder, cell_id, sweeps, sampling_rate_hz):
    """`ephys_sweeps.json`: the sweep table `CellTypesCache.get_ephys_sweeps` reads."""
    sweep_table = [
        {
            "id": cell_id * 1000 + s["sweep_number"],
            "specimen_id": cell_id,
            "sweep_number": s["sweep_number"],
            "stimulus_name": s["stimulus_name"],
            "stimulus_units": "Amps",
            "stimulus_absolute_amplitude": s["amplitude_pa"],
            "num_spikes": int(len(s["spike_times_s"])),
            "sampling_rate": float(sampling_rate_hz),
        }
        for s in sweeps
    ]
    write_json_atomic(sweep_table, os.path.join(folder, "ephys_sweeps.json"), indent=1)


def cell_summary(cell_id, sweeps, **model):
    """What `write_cells` returns for a cell: its id, number of sweeps and of spikes, and its model."""
    return {"cell_id": cell_id, "n_sweeps": len(sweeps), "n_spikes": sum(len(s["spike_times_s"]) for s in sweeps), **model}

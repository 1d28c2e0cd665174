"""A synthetic cell bank's folder across invocations: its settings, its index of files, replacing it.

`gfr_settings.json` (see `gfr_keras.run_settings`) records what the bank was
made with (model, number of cells, seed, cells per line, sampling rate) and
`files`, the bank's own index of what it wrote: `manifest.json`,
`cells.json` and one `specimen_<id>/` folder per cell (`ephys.nwb`,
`ephys_sweeps.json`, `model.json`). `claim_bank` decides, before any work:

* the same settings: the bank resumes (cells whose `ephys.nwb` exists are kept);
* other settings: refused (`RunStateError`, each difference old -> new), or with
  `replace` the old bank's files are deleted first, so no specimen folder of
  the old bank is left behind. Only files of the index are deleted: a folder
  that holds anything else is refused, even with `replace`;
* a bank written before the record existed is indexed by its `cells.json`:
  the same cells are accepted (and recorded, with a note), other cells are
  refused as other settings are.
"""

import os
import shutil

from gfr_keras.errors import InputError, RunStateError
from gfr_keras.io_utils import read_json
from gfr_keras.run_settings import SETTINGS_FILE, describe_differences, read_record, settings_differences, write_settings

BANK_KIND = "synthetic bank"
# bank.json: what the bank is, for provenance (`synthetic.write_bank_description`).
INDEX_FILES = ("manifest.json", "cells.json", "bank.json")
#: Folders the bank writes beside the cells' (`--format nwb2`: `nwb2/<id>.nwb`).
INDEX_FOLDERS = ("nwb2",)
#: What a cell's folder holds (`ephys.nwb` last: it marks the cell done).
SPECIMEN_FILES = ("ephys.nwb", "ephys_sweeps.json", "model.json")


def bank_index(cell_ids):
    """The files and folders a bank of `cell_ids` writes, relative to its folder."""
    return [*INDEX_FILES, *INDEX_FOLDERS, *(f"specimen_{int(cell_id)}" for cell_id in cell_ids)]


def _is_temp(name):
    return name.startswith(".") and name.endswith(".tmp")  # io_utils.atomic_path's names, left by a kill


def foreign_entries(folder, index):
    """Paths under `folder` that the bank of `index` did not write (sorted, relative)."""
    known = set(index) | {SETTINGS_FILE}
    foreign = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name not in known and not _is_temp(name):
            foreign.append(name)
        elif name.startswith("specimen_") and os.path.isdir(path):
            foreign += [f"{name}/{inner}" for inner in sorted(os.listdir(path))
                        if inner not in SPECIMEN_FILES and not _is_temp(inner)]
        elif name.startswith("specimen_") or (name in known and os.path.isdir(path) and name not in INDEX_FOLDERS):
            foreign.append(name)  # a file where the bank writes a folder, or the reverse
    return foreign


def _remove_bank(folder, index):
    for name in [*index, SETTINGS_FILE, *(n for n in os.listdir(folder) if _is_temp(n))]:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            shutil.rmtree(path)  # holds only the bank's files (checked by foreign_entries)
        elif os.path.exists(path):
            os.remove(path)


def _existing_bank(folder):
    """`(recorded settings or None, index)` of the bank in `folder`; (None, None) when there is none."""
    record = read_record(folder, BANK_KIND)
    if record is not None:
        return record["settings"], record.get("files") or list(INDEX_FILES)
    cells_path = os.path.join(folder, "cells.json")
    if not os.path.exists(cells_path):
        return None, None
    cells = read_json(cells_path, InputError)
    try:
        return None, bank_index(int(cell["specimen__id"]) for cell in cells)
    except (TypeError, KeyError, ValueError):
        raise InputError(f"{cells_path}: expected a list of cell records with specimen__id", path=cells_path) from None


def claim_bank(folder, settings, cell_ids, replace=False):
    """Check `folder` for a bank of `cell_ids` made with `settings`; record them. Before any simulation.

    Args:
        settings: what the cells depend on (model, n, seed, per_line, sampling_rate_hz), JSON values.
        cell_ids: the cells the bank will hold.
        replace: delete another bank found in `folder` (only its own files) instead of refusing.

    Returns:
        a one-line note to print (a bank replaced, or recorded for the first time), or None.

    Raises:
        RunStateError: another bank without `replace` (each difference old -> new), or, to be
            replaced, a folder holding files the bank did not write (named).
    """
    index = bank_index(cell_ids)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    recorded, old_index = _existing_bank(folder)
    if old_index is None:  # no bank here yet
        write_settings(folder, BANK_KIND, settings, files=index)
        return None
    if recorded is not None:
        differences = settings_differences(recorded, settings)
    else:
        old_ids = sorted(int(name[9:]) for name in old_index if name.startswith("specimen_"))
        differences = [] if old_ids == sorted(int(c) for c in cell_ids) else [("cells", old_ids, sorted(int(c) for c in cell_ids))]
    if not differences:
        write_settings(folder, BANK_KIND, settings, files=index)
        return None if recorded is not None else (
            f"{folder}: written before banks recorded their settings; it holds the same cells, now recorded "
            "(its seed for the noise, model and sampling rate are taken to be these)")
    if not replace:
        raise RunStateError(
            f"{folder} holds a bank made with other settings ({describe_differences(differences)}); replace it "
            "(replace: deletes the old bank's files) or write the new bank into another folder",
            path=folder, parameter="replace", reason="settings_differ")
    foreign = foreign_entries(folder, old_index)
    if foreign:
        raise RunStateError(
            f"{folder} also holds files the bank did not write ({', '.join(foreign[:10])}"
            f"{', ...' if len(foreign) > 10 else ''}); it is not replaced: move them away or use another folder",
            path=folder, reason="foreign_files")
    _remove_bank(folder, old_index)
    write_settings(folder, BANK_KIND, settings, files=index)
    return f"{folder}: replaced the old bank ({describe_differences(differences)}); its files were deleted"

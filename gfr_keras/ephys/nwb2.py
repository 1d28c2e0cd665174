"""Current-clamp recordings in NWB 2 files (DANDI, Allen's Patch-seq releases, any lab) read with pynwb.

Per file (docs/fitting_your_recordings.md):

* Sweeps: the rows of the intracellular recordings table (stimulus and response
  with their index ranges) or, in files without one, every `CurrentClampSeries`
  paired with the `CurrentClampStimulusSeries` of the same `sweep_number`.
  Voltage-clamp sweeps are skipped. Each sweep keeps its own sampling rate; the
  data is `data * conversion + offset` in the series' unit, then pA and mV.
* Role: from the response's `stimulus_description` (else the stimulus's), see
  `gfr_keras.ephys.stimulus_roles`. A sweep without a role is reported, not used.
* Spike times: Allen's `processing/spikes/Sweep_<n>` timestamps (ipfx's
  `nwb_append`) when the file stores them, else detected from the voltage
  (`gfr_keras.ephys.spike_detection`).
* Cell id: `identifier` when it is an integer, else the file name when it is
  one, else a stable number from the file name (`file_cell_id`).
* Species and cre line: `Subject.species` and `Subject.genotype`.

Then `gfr_keras.ephys.sweeps.process_sweeps` bins the sweeps as for NWB 1 files.
"""

import os
import zlib

import h5py
import numpy as np

from gfr_keras.errors import InputError, MissingInputError
from gfr_keras.ephys.allen import CellProcessingError
from gfr_keras.ephys.stimulus_roles import stimulus_role
from gfr_keras.ephys.sweeps import process_sweeps

#: Unit spellings -> factor to pA (currents) or mV (voltages).
CURRENT_UNITS = {"amperes": 1e12, "ampere": 1e12, "amps": 1e12, "a": 1e12, "nanoamperes": 1e3, "na": 1e3,
                 "picoamperes": 1.0, "pa": 1.0}
VOLTAGE_UNITS = {"volts": 1e3, "volt": 1e3, "v": 1e3, "millivolts": 1.0, "mv": 1.0}


def nwb_files(paths):
    """The NWB files of `paths` (files, or folders searched recursively for `*.nwb`), sorted per folder.

    Raises:
        MissingInputError for a path that does not exist or a folder without NWB files.
    """
    files = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            found = sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names
                           if name.endswith(".nwb") and not name.startswith("."))
            if not found:
                raise MissingInputError(f"{path}: no .nwb files in this folder", path=path, reason="no_nwb_files")
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise MissingInputError(f"{path}: no such file or folder", path=path, reason="missing_nwb")
    return list(dict.fromkeys(files))


def file_cell_id(path, identifier=None):
    """The cell id of an NWB file: `identifier` if an integer, else the file name if one, else CRC-32 of the name."""
    stem = os.path.splitext(os.path.basename(path))[0]
    for text in (identifier, stem):
        if text is not None and str(text).strip().isdigit():
            return int(str(text).strip())
    return zlib.crc32(stem.encode("utf-8"))


def check_nwb2(path):
    """Raise `InputError` naming `path` unless it is an NWB 2 file; returns its `identifier` (or None)."""
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file, so not an NWB 2 file", path=path, reason="not_nwb2")
    with h5py.File(path, "r") as handle:
        version = handle.attrs.get("nwb_version")
        if version is None and "nwb_version" in handle:  # NWB 1 keeps it as a dataset
            old = handle["nwb_version"][()]
            old = old.decode() if isinstance(old, bytes) else str(old)
            raise InputError(
                f"{path}: an NWB 1 file ({old}); NWB 1 files (Allen Cell Types Database) are read through "
                "allensdk's CellTypesCache (preprocess_cells), not as NWB 2", path=path, reason="nwb1_file",
            )
        version = version.decode() if isinstance(version, bytes) else version
        if version is None or not str(version).startswith("2"):
            raise InputError(f"{path}: an HDF5 file that is not NWB 2 (nwb_version attribute: {version!r})",
                             path=path, reason="not_nwb2")
        identifier = handle.get("identifier")
        identifier = identifier[()] if identifier is not None else None
    return identifier.decode() if isinstance(identifier, bytes) else identifier


def _scaled(series, start, count, units, path, sweep_number):
    unit = str(series.unit or "").strip().lower()
    if unit not in units:
        raise CellProcessingError(
            f"{path}: sweep {sweep_number}: {series.name} has unit {series.unit!r}; expected one of {sorted(units)}",
            path=path, record=sweep_number, field="unit", reason="bad_unit",
        )
    stop = None if count is None or count < 0 else start + count
    data = np.asarray(series.data[start:stop], dtype=np.float64)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    return (data * float(series.conversion) + offset) * units[unit]


def _rate(series, path, sweep_number):
    if series.rate is not None:
        return float(series.rate)
    timestamps = np.asarray(series.timestamps[:], dtype=np.float64)
    steps = np.diff(timestamps)
    if len(steps) == 0 or np.any(steps <= 0) or np.ptp(steps) > 1e-3 * np.median(steps):
        raise CellProcessingError(f"{path}: sweep {sweep_number}: {series.name} is not sampled at a constant rate",
                                  path=path, record=sweep_number, field="timestamps", reason="bad_sweep")
    return 1.0 / float(np.median(steps))


def _recording_pairs(nwbfile):
    """`(sweep_number, stimulus ref, response ref)`; a ref is `(series, idx_start, count)` or None."""
    table = nwbfile.intracellular_recordings
    if table is not None and len(table) > 0:
        stimuli = table.category_tables["stimuli"]["stimulus"]
        responses = table.category_tables["responses"]["response"]
        pairs = []
        for row, row_id in enumerate(table.id[:]):
            refs = []
            for column in (stimuli, responses):
                ref = column[row]  # a TimeSeriesReference (idx_start, count, timeseries)
                valid = ref is not None and ref.timeseries is not None and ref.idx_start >= 0
                refs.append((ref.timeseries, int(ref.idx_start), int(ref.count)) if valid else None)
            response = refs[1][0] if refs[1] else None
            number = getattr(response, "sweep_number", None)
            pairs.append((int(number) if number is not None else int(row_id), *refs))
        return pairs
    return _pairs_by_sweep_number(nwbfile)


def _pairs_by_sweep_number(nwbfile):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    responses = {int(s.sweep_number): s for s in nwbfile.acquisition.values()
                 if isinstance(s, CurrentClampSeries) and s.sweep_number is not None}
    stimuli = {int(s.sweep_number): s for s in nwbfile.stimulus.values()
               if isinstance(s, CurrentClampStimulusSeries) and s.sweep_number is not None}
    return [
        (number, (stimuli[number], 0, -1) if number in stimuli else None, (responses[number], 0, -1))
        for number in sorted(responses)
    ]


def _stored_spike_times(nwbfile):
    """Allen's `processing/spikes/Sweep_<n>` timestamps (ipfx `nwb_append`): `{sweep_number: times (s)}`."""
    module = nwbfile.processing.get("spikes")
    if module is None:
        return {}
    stored = {}
    for name, series in module.data_interfaces.items():
        if name.startswith("Sweep_") and name[6:].isdigit() and getattr(series, "timestamps", None) is not None:
            stored[int(name[6:])] = np.asarray(series.timestamps[:], dtype=np.float64)
    return stored


def _description(stimulus, response):
    for series in (response, stimulus):
        text = getattr(series, "stimulus_description", None) if series is not None else None
        if text and text != "N/A":
            return str(text)
    return ""


def _sweep(number, stimulus_ref, response_ref, role, description, spikes, path):
    stimulus, response = stimulus_ref[0], response_ref[0]
    rate = _rate(response, path, number)
    if abs(_rate(stimulus, path, number) - rate) > 1e-6 * rate:
        raise CellProcessingError(f"{path}: sweep {number}: stimulus and response have different sampling rates",
                                  path=path, record=number, reason="bad_sweep")
    current = _scaled(stimulus, *stimulus_ref[1:], CURRENT_UNITS, path, number)
    voltage = _scaled(response, *response_ref[1:], VOLTAGE_UNITS, path, number)
    samples = min(len(current), len(voltage))  # a response cut short keeps the stimulus it had
    return {"sweep_number": number, "role": role, "stimulus_description": description, "sampling_rate_hz": rate,
            "current_pa": current[:samples], "voltage_mv": voltage[:samples], "spike_times_s": spikes.get(number)}


def read_nwb2_sweeps(nwbfile, path, stimulus_map=None):
    """The current-clamp sweeps of an open NWB 2 file as `sweeps` dicts, and a message per sweep left out.

    Returns:
        `(sweeps, skipped)`: sweep dicts for `process_sweeps`, and `(sweep_number,
        stimulus_description, reason)` for each current-clamp sweep without a role or a stimulus.
    """
    from pynwb.icephys import CurrentClampSeries

    spikes = _stored_spike_times(nwbfile)
    sweeps, skipped = [], []
    for number, stimulus_ref, response_ref in _recording_pairs(nwbfile):
        if response_ref is None or not isinstance(response_ref[0], CurrentClampSeries):
            continue  # voltage clamp, I = 0 or no response: not a current-clamp sweep
        description = _description(stimulus_ref[0] if stimulus_ref else None, response_ref[0])
        role = stimulus_role(description, stimulus_map)
        if stimulus_ref is None:
            skipped.append((number, description, "no stimulus series (CurrentClampStimulusSeries) for this sweep"))
        elif role is None:
            skipped.append((number, description, f"unknown stimulus name {description!r}: no role (give it one in a stimulus map)"))
        elif role != "ignore":
            sweeps.append(_sweep(number, stimulus_ref, response_ref, role, description, spikes, path))
    return sweeps, skipped


def _subject(nwbfile):
    subject = nwbfile.subject
    if subject is None:
        return "", ""
    return str(subject.species or ""), str(getattr(subject, "genotype", None) or "")


def read_nwb2_file(path, stimulus_map=None):
    """Read one NWB 2 file: a dict with `path`, `identifier`, `sweeps` (dicts for `process_sweeps`),
    `species`, `cre_line` and `warnings` (one message per current-clamp sweep left out, naming
    the file, sweep and stimulus name).

    Raises:
        InputError (`reason` "not_nwb2", "nwb1_file") for a file that is not NWB 2;
        CellProcessingError naming the file (and sweep) for one pynwb cannot read.
    """
    from pynwb import NWBHDF5IO

    path = os.fspath(path)
    identifier = check_nwb2(path)
    try:
        io = NWBHDF5IO(path, "r", load_namespaces=True)
        nwbfile = io.read()
    except Exception as error:  # pynwb/hdmf raise many kinds for a malformed file
        raise CellProcessingError(f"{path}: cannot read it as NWB 2: {type(error).__name__}: {error}", path=path,
                                  reason="unreadable") from None
    with io:
        sweeps, skipped = read_nwb2_sweeps(nwbfile, path, stimulus_map)
        species, cre_line = _subject(nwbfile)
    warnings = [f"{path}: sweep {number} ({description or 'no stimulus_description'}): {reason}"
                for number, description, reason in skipped]
    return {"path": path, "identifier": identifier, "sweeps": sweeps, "species": species, "cre_line": cre_line,
            "warnings": warnings}


def bin_nwb2_recording(recording, cell_id=None, max_rate_sweeps="all"):
    """`(cell, warnings)` of a `read_nwb2_file` result; a missing stimulus names the sweeps left out."""
    path = recording["path"]
    cell_id = file_cell_id(path, recording["identifier"]) if cell_id is None else cell_id
    try:
        cell, coverage = process_sweeps(recording["sweeps"], cell_id, recording["species"], recording["cre_line"],
                                        max_rate_sweeps, path=path)
    except CellProcessingError as error:
        left_out = [w.split(": ", 1)[1] for w in recording["warnings"]]
        if error.reason == "missing_stimulus" and left_out:
            raise CellProcessingError(f"{error}; sweeps left out: " + "; ".join(left_out), **error.details()) from None
        raise
    return cell, recording["warnings"] + coverage


def process_nwb2_file(path, stimulus_map=None, cell_id=None, max_rate_sweeps="all"):
    """Read one NWB 2 file and bin it: `(cell, warnings)` (see the module docstring).

    Args:
        path: the NWB 2 file.
        stimulus_map: optional `StimulusMap` (`stimulus_roles.load_stimulus_map`).
        cell_id: the cell id to use instead of the file's (`file_cell_id`).
        max_rate_sweeps: "all" or "fitted" (`sweeps.process_sweeps`).

    Returns:
        the processed cell dict and a list of warnings, one per sweep left out
        (naming the file, sweep and stimulus name) and per too-short Noise set.

    Raises:
        InputError (`reason` "not_nwb2", "nwb1_file") for a file that is not NWB 2;
        CellProcessingError naming the file and sweep for one that cannot be processed.
    """
    return bin_nwb2_recording(read_nwb2_file(path, stimulus_map), cell_id, max_rate_sweeps)

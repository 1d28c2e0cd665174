"""Where a dataset's cells came from and how they were fitted: the provenance sidecar.

The dataset file stays a plain JSON list of records, so the published code reads
it unchanged; its provenance lives beside it, in `<name>.provenance.json`
(`gfr_dataset.json` -> `gfr_dataset.provenance.json`). docs/dataset_format.md
describes the sidecar. In short::

    {"format": "gfr-keras dataset provenance", "format_version": 1,
     "dataset_sha256": "...",          # of the dataset file it describes
     "built": {"by": "gfr build-dataset", "gfr_keras_version": "0.1.0", "date": "2026-12-03"},
     "sources": [{"kind": "synthetic", "model": "spiking", "seed": 2026, ...}],
     "fits": [{"config": {...}, "degree": 1, "C": 0.0, "backend": "jax", ...}],
     "records": [[cell_id, bin_size, actv_bin_size, source_index, fit_index], ...]}

A source is one of `SOURCE_KINDS`: `allen` (Allen Cell Types recordings read
through allensdk), `synthetic` (a `gfr synth-cells` bank: its model, seed and
sampling rate), `nwb2` (NWB 2 files, listed), `published` (a dataset file whose
origin was not recorded, e.g. the published one) or `unknown` (fits made before
sources were recorded). A file without a sidecar is "published dataset,
provenance not recorded".
"""

import datetime
import json
import os

from gfr_keras.errors import InputError
from gfr_keras.io_utils import atomic_path, file_sha256, read_json_if_present, to_json

FORMAT = "gfr-keras dataset provenance"
FORMAT_VERSION = 1
SOURCE_KINDS = ("allen", "synthetic", "nwb2", "published", "unknown")
NOT_RECORDED = "published dataset, provenance not recorded"
_RECORD_KEYS = ("cell_id", "bin_size", "actv_bin_size")


class ProvenanceError(InputError):
    """A provenance sidecar is malformed; the message names the file and the field."""


def sidecar_path(dataset_path):
    """The sidecar of a dataset file: `x.json` -> `x.provenance.json`."""
    base, extension = os.path.splitext(os.fspath(dataset_path))
    return base + ".provenance.json" if extension == ".json" else os.fspath(dataset_path) + ".provenance.json"


def today():
    """The UTC date, `YYYY-MM-DD`: the precision a provenance records."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def package_version():
    from gfr_keras import __version__

    return __version__


# -- sources -------------------------------------------------------------------------------

def allen_source(manifest_path, downloaded=False):
    """Cells read through allensdk from a CellTypesCache (Allen Cell Types recordings)."""
    import importlib.metadata

    try:
        allensdk = importlib.metadata.version("allensdk")
    except importlib.metadata.PackageNotFoundError:
        allensdk = None
    return {"kind": "allen", "manifest": os.path.abspath(os.fspath(manifest_path)), "reader": "allensdk",
            "allensdk_version": allensdk, "downloaded": bool(downloaded)}


def synthetic_source(model, seed, sampling_rate_hz, n_cells, per_line=1):
    """A `gfr synth-cells` bank: model neurons calibrated to rows of the Allen metadata."""
    return {"kind": "synthetic", "model": str(model), "seed": int(seed), "sampling_rate_hz": float(sampling_rate_hz),
            "n_cells": int(n_cells), "per_line": int(per_line),
            "calibrated_to": "Allen Cell Types metadata (gfr_keras/resources/allen_cell_types_metadata.csv)",
            "gfr_keras_version": package_version(), "date": today()}


def nwb2_source(files):
    """Recordings read from NWB 2 files (`gfr preprocess --nwb`), by file name."""
    return {"kind": "nwb2", "files": sorted(os.path.basename(os.fspath(f)) for f in files)}


def published_source(dataset_path):
    """Records taken from a dataset file that has no sidecar (e.g. the published file)."""
    return {"kind": "published", "file": os.path.basename(os.fspath(dataset_path)), "provenance_recorded": False}


UNKNOWN_SOURCE = {"kind": "unknown"}


def fit_settings(config=None, degree=None, C=None, backend=None, date=None, version=None):
    """How cells were fitted: the fit config's values, degree, C, Keras backend, version, date."""
    return {"config": config, "degree": degree, "C": C, "backend": backend,
            "gfr_keras_version": version, "date": date}


# -- the sidecar ---------------------------------------------------------------------------

def new_provenance(sources, fits, rows):
    """A provenance dict: `rows` are `(cell_id, bin_size, actv_bin_size, source_index, fit_index)`."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "built": {"by": "gfr build-dataset", "gfr_keras_version": package_version(), "date": today()},
        "sources": list(sources),
        "fits": list(fits),
        "records": [list(row) for row in rows],
    }


def write_provenance(provenance, dataset_path, records):
    """Write the sidecar of the (already written) dataset file `dataset_path`, atomically.

    Rows of records the file does not hold are dropped; its hash ties the sidecar to the file.
    """
    keys = {tuple(int(r[k]) for k in _RECORD_KEYS) for r in records}
    provenance = {key: value for key, value in provenance.items() if key != "matches_file"}
    provenance["records"] = [row for row in provenance.get("records", []) if tuple(row[:3]) in keys]
    provenance["dataset_sha256"] = file_sha256(dataset_path)
    with atomic_path(sidecar_path(dataset_path)) as tmp:
        with open(tmp, "w") as handle:
            handle.write(_sidecar_text(provenance))
    return provenance


def _sidecar_text(provenance):
    """Indented JSON, one line per record row (a 14,000-record dataset stays readable)."""
    head = {key: value for key, value in provenance.items() if key != "records"}
    text = to_json(head, indent=1)
    rows = ",\n".join("  " + to_json(row, separators=(",", ":")) for row in provenance["records"])
    return text[:-2] + ',\n "records": [\n' + rows + "\n ]\n}\n"


def remove_provenance(dataset_path):
    """Remove a sidecar that no longer describes its dataset file (the file was rewritten without one)."""
    path = sidecar_path(dataset_path)
    if os.path.exists(path):
        os.remove(path)


def read_provenance(dataset_path):
    """The sidecar of `dataset_path` as a dict, or None when there is none.

    The dict gains `matches_file`: False when the dataset file changed after the
    sidecar was written (its hash differs), so the provenance may not describe it.

    Raises:
        ProvenanceError naming the sidecar and field when it is malformed.
    """
    path = sidecar_path(dataset_path)
    provenance = read_json_if_present(path, ProvenanceError)
    if provenance is not None:
        _validate(provenance, path)
        provenance["matches_file"] = provenance.get("dataset_sha256") == file_sha256(dataset_path)
    return provenance


def _validate(provenance, path):
    if not isinstance(provenance, dict) or provenance.get("format") != FORMAT:
        raise ProvenanceError(f"{path}: field 'format': expected a JSON object with \"format\": \"{FORMAT}\"", path=path, field="format")
    for key in ("sources", "fits", "records"):
        if not isinstance(provenance.get(key), list):
            raise ProvenanceError(f"{path}: field '{key}': expected a list", path=path, field=key)
    for index, source in enumerate(provenance["sources"]):
        if not isinstance(source, dict) or source.get("kind") not in SOURCE_KINDS:
            raise ProvenanceError(
                f"{path}: field 'sources[{index}].kind': expected one of {list(SOURCE_KINDS)}", path=path,
                field=f"sources[{index}].kind",
            )
    n_sources, n_fits = len(provenance["sources"]), len(provenance["fits"])
    for index, row in enumerate(provenance["records"]):
        if not (isinstance(row, list) and len(row) == 5 and all(isinstance(v, int) for v in row)
                and 0 <= row[3] < n_sources and 0 <= row[4] < n_fits):
            raise ProvenanceError(
                f"{path}: field 'records[{index}]': expected [cell_id, bin_size, actv_bin_size, source index, "
                f"fit index] with indices into 'sources' and 'fits', got {row!r}", path=path, field=f"records[{index}]",
            )


def _key(value):
    return json.dumps(value, sort_keys=True)


class ProvenanceBuilder:
    """Collects distinct sources and fit settings, and which record came from which."""

    def __init__(self):
        self.sources, self.fits, self.rows = [], [], {}
        self._source_index, self._fit_index = {}, {}

    def _index(self, item, items, index):
        key = _key(item)
        if key not in index:
            index[key] = len(items)
            items.append(item)
        return index[key]

    def add(self, record, source, fit):
        """Attribute `record` (its cell id and configuration) to `source` and `fit` (replacing an earlier one)."""
        row_key = tuple(int(record[k]) for k in _RECORD_KEYS)
        s = self._index(source, self.sources, self._source_index)
        f = self._index(fit, self.fits, self._fit_index)
        self.rows[row_key] = (*row_key, s, f)

    def add_dataset(self, records, provenance, dataset_path):
        """Attribute an existing dataset's records: from its sidecar, or to the file itself."""
        by_key = {}
        if provenance is not None and provenance.get("matches_file", True):
            by_key = {tuple(row[:3]): row for row in provenance["records"]}
        for record in records:
            row = by_key.get(tuple(int(record[k]) for k in _RECORD_KEYS))
            if row is None:
                self.add(record, published_source(dataset_path), fit_settings())
            else:
                self.add(record, provenance["sources"][row[3]], provenance["fits"][row[4]])

    def provenance(self):
        rows = [self.rows[key] for key in sorted(self.rows)]
        used_sources = sorted({row[3] for row in rows})
        used_fits = sorted({row[4] for row in rows})
        s_map = {old: new for new, old in enumerate(used_sources)}
        f_map = {old: new for new, old in enumerate(used_fits)}
        return new_provenance(
            [self.sources[i] for i in used_sources], [self.fits[i] for i in used_fits],
            [(*row[:3], s_map[row[3]], f_map[row[4]]) for row in rows],
        )


# -- one sentence -------------------------------------------------------------------------

_BACKEND_NAMES = {"jax": "JAX", "tensorflow": "TensorFlow", "torch": "PyTorch", "numpy": "NumPy"}


def _describe_source(source):
    kind = source.get("kind")
    if kind == "synthetic":
        rate = source.get("sampling_rate_hz")
        details = [
            f"{source['n_cells']}-cell" if source.get("n_cells") else "",
            f"{source['model']}" if source.get("model") else "",
            "bank",
        ]
        extra = [f"seed {source['seed']}" if source.get("seed") is not None else "", f"{rate / 1000:g} kHz" if rate else ""]
        detail = ", ".join([" ".join(d for d in details if d)] + [e for e in extra if e])
        return f"fitted to synthetic cells calibrated to the Allen metadata ({detail})"
    if kind == "allen":
        return "fitted to Allen Cell Types recordings (read through allensdk)"
    if kind == "nwb2":
        files = source.get("files") or []
        return f"fitted to recordings from {len(files)} NWB 2 file{'s' if len(files) != 1 else ''}"
    if kind == "published":
        return f"taken from {source.get('file', 'a dataset file')} ({NOT_RECORDED})"
    return "fitted to cells whose origin was not recorded"


def _describe_fit(fit):
    config = fit.get("config")
    name = config.get("config_name") if isinstance(config, dict) else config
    backend = fit.get("backend")
    parts = [
        f"{name} fit config" if name else "",
        f"{_BACKEND_NAMES.get(backend, backend)} backend" if backend else "",
        f"gfr-keras {fit['gfr_keras_version']}" if fit.get("gfr_keras_version") else "",
        fit.get("date") or "",
    ]
    return ", ".join(p for p in parts if p)


def _count(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def describe_provenance(provenance):
    """One sentence saying what a dataset is, for the summary, the explorer and the notebooks.

    Args:
        provenance: a sidecar dict (`read_provenance`, `DataFrame.attrs["provenance"]`) or None.
    """
    if provenance is None:
        return NOT_RECORDED
    if provenance.get("matches_file") is False:
        return f"{NOT_RECORDED} (its provenance file describes an earlier version of it)"
    rows, sources, fits = provenance["records"], provenance["sources"], provenance["fits"]
    if sources and all(s.get("kind") == "published" for s in sources):
        return NOT_RECORDED
    parts = []
    for index, source in enumerate(sources):
        mine = [row for row in rows if row[3] == index]
        settings = sorted({_describe_fit(fits[row[4]]) for row in mine} - {""})
        cells = len({row[0] for row in mine})
        text = f"{_count(len(mine), 'record')} ({_count(cells, 'cell')}) {_describe_source(source)}"
        parts.append(text + (f"; {'; '.join(settings)}" if settings else ""))
    return ". ".join(parts) + "." if parts else "an empty dataset"

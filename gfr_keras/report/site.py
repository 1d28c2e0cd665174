"""Write the static site: `index.html` over `data/index.js`, and `cells/<id>.html` + `cells/<id>.js`.

Per-cell data are small scripts assigning a global (`file://` pages cannot
fetch JSON), and pages draw their figures in the browser from them, so a
2,333-cell report is ~4,700 small text files, not tens of thousands of images.
The site is built in a temporary folder beside `out` and swapped in by rename:
an existing report is replaced only once the new one is complete.
"""

import contextlib
import datetime
import os
import shutil
import tempfile
import time
from importlib import resources

import gfr_keras as gk
from gfr_keras.errors import OutputError
from gfr_keras.io_utils import to_json
from gfr_keras.report.curves import activation_curves, fi_points, kernels as kernel_curves, noise_predictions
from gfr_keras.report.data import ALLEN_CELL_URL, collect_cells, index_payload

ASSETS = ("plot.js", "index.js", "cell.js", "report.css")
MARKER = ".gfr-report"  # marks a folder as a report, the only kind `build_report` replaces


class ReportError(OutputError):
    """The report cannot be written where asked (the message says why)."""


def build_report(dataset, out, processed=(), fits=(), configurations=gk.CONFIGURATIONS):
    """Build the dataset explorer for `dataset` into the folder `out`.

    Args:
        dataset: path of a dataset JSON file; it is validated before anything is written.
        out: the site folder; an existing report there is replaced atomically.
        processed: folders of processed cells (`<cell_id>.h5`); their cells get
            f-I points and Noise 2 predictions, the others say "no recordings given".
        fits: `gfr fit` folders; they add species and the fits the filters left out.

    Returns:
        dict: `index` (path of index.html), `cells`, `records`, `with_recordings`, `seconds`,
        `provenance` (the sentence the header and every cell page show: what the dataset is).

    Raises:
        gk.DatasetError naming the record and field of a malformed record;
        ReportError if `out` exists and is not a report; FileNotFoundError for a missing folder.
    """
    started = time.perf_counter()
    dataset = os.fspath(dataset)
    cells, info = collect_cells(dataset, fits, processed)
    out = os.path.abspath(os.fspath(out))
    _check_replaceable(out)
    provenance = gk.describe_provenance(gk.read_provenance(dataset))
    recordings = {
        cell_id: gk.read_processed_cell(cell["processed_path"])
        for cell_id, cell in cells.items()
        if cell["processed_path"]
    }
    cells = _with_recorded_species(cells, recordings)
    pages = _cell_payloads(cells, recordings, configurations, dataset, provenance)
    index = index_payload(cells, configurations, os.path.basename(dataset), provenance)
    with _atomic_folder(out) as tmp:
        _write_site(tmp, index, pages)
    return {
        "index": os.path.join(out, "index.html"),
        "cells": len(cells),
        "records": sum(len(cell["configurations"]) for cell in cells.values()),
        "with_recordings": sum(cell["processed_path"] is not None for cell in cells.values()),
        "fits_skipped": info["fits_skipped"],
        "provenance": provenance,
        "seconds": time.perf_counter() - started,
    }


def _snippet_path(dataset):
    """How a cell page's snippet names the dataset: the shipped one by its constant, others by absolute path.

    The path is written with `repr`, so any file name (quotes, backslashes,
    newlines) is one Python string literal and the snippet runs as printed.
    """
    shipped = os.fspath(gk.SHIPPED_DATASET_PATH)
    if os.path.exists(shipped) and os.path.samefile(dataset, shipped):
        return "gk.SHIPPED_DATASET_PATH"
    return repr(os.path.abspath(dataset))


def _with_recorded_species(cells, recordings):
    """`cells` (not changed) with each recorded cell's species taken from its recording where it names one."""
    return {
        cell_id: {**cell, "species": recordings[cell_id]["species"] or cell["species"]}
        if cell_id in recordings else cell
        for cell_id, cell in cells.items()
    }


def _cell_payloads(cells, processed, configurations, dataset, provenance=""):
    """Each cell's page data (`processed`: the recordings by cell id); the models run one configuration at a time."""
    pages = {
        cell_id: {
            "cell_id": cell_id,
            "species": cell["species"],
            "cre_line": cell["cre_line"],
            "allen_url": ALLEN_CELL_URL.format(cell_id=cell_id),
            "dataset": os.path.basename(dataset),
            "provenance": provenance,
            "dataset_snippet": _snippet_path(dataset),
            "has_recordings": cell_id in processed,
            "processed_file": os.path.basename(cell["processed_path"] or ""),
            "configurations": [],
        }
        for cell_id, cell in cells.items()
    }
    for configuration in configurations:
        ids = [cell_id for cell_id, cell in cells.items() if configuration in cell["configurations"]]
        if not ids:
            continue
        entries = [cells[cell_id]["configurations"][configuration] for cell_id in ids]
        records = [entry["record"] for entry in entries]
        recorded = [i for i, cell_id in enumerate(ids) if cell_id in processed]
        recorded_cells = [processed[ids[i]] for i in recorded]
        fi = [None] * len(ids)
        noise = [None] * len(ids)
        if recorded:
            for i, points in zip(recorded, fi_points(recorded_cells, configuration[1])):
                fi[i] = points
            predictions = noise_predictions([records[i] for i in recorded], recorded_cells, configuration[0])
            for i, prediction in zip(recorded, predictions):
                noise[i] = prediction
        activation = activation_curves(records, fi)
        kernels = kernel_curves(records, configuration[0])
        for i, cell_id in enumerate(ids):
            pages[cell_id]["configurations"].append({
                "bin_size": configuration[0],
                "actv_bin_size": configuration[1],
                "passes": entries[i]["passes"],
                "in_dataset": entries[i]["in_dataset"],
                "record": records[i],
                "activation": activation[i],
                "fi": fi[i],
                "kernels": kernels[i],
                "noise": noise[i],
            })
    return pages


# Characters escaped in the data scripts although JSON allows them raw: with no `<`, `>` or `&`
# in the file, no string can end a script element or open an HTML comment wherever the text lands.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                   0x2028: "\\u2028", 0x2029: "\\u2029"}


def _script(variable, payload):
    """`window.<variable> = <payload as JSON>;`: data as a script file the page loads (file:// cannot fetch JSON)."""
    text = to_json(payload, separators=(",", ":"))
    return f"window.{variable} = {text.translate(_SCRIPT_ESCAPES)};\n"


def _asset_text(name):
    return (resources.files("gfr_keras.report") / "assets" / name).read_text(encoding="utf-8")


def _page_template(name):
    """An HTML page of assets/ with its `{{page_head}}` filled: the opening both pages share
    (`page_head.html`: doctype, charset, the one Content-Security-Policy, viewport)."""
    return _asset_text(name).replace("{{page_head}}", _asset_text("page_head.html").rstrip("\n"), 1)


def _write_site(folder, index, pages):
    for sub in ("assets", "data", "cells"):
        os.makedirs(os.path.join(folder, sub))
    for name in ASSETS:
        _write_text(os.path.join(folder, "assets", name), _asset_text(name))
    built = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    _write_text(os.path.join(folder, "index.html"), _page_template("index.html").replace("{{built}}", built))
    _write_text(os.path.join(folder, "data", "index.js"), _script("GFR_INDEX", index))
    cell_template = _page_template("cell.html")
    for cell_id, page in pages.items():
        _write_text(os.path.join(folder, "cells", f"{cell_id}.js"), _script("GFR_CELL", page))
        _write_text(os.path.join(folder, "cells", f"{cell_id}.html"), cell_template.replace("{{cell_id}}", str(cell_id)))
    _write_text(os.path.join(folder, MARKER), "written by gfr report; replaced whole on rebuild\n")


def _write_text(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _check_replaceable(out):
    """Refuse to swap away a folder that is not a report (a typo must not delete data)."""
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ReportError(f"out: {out} exists and is not a folder", parameter="out", path=out)
    if os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)):
        raise ReportError(
            f"out: {out} is a non-empty folder that is not a gfr report; not replacing it", parameter="out", path=out
        )


@contextlib.contextmanager
def _atomic_folder(out):
    """Yield a temp folder beside `out`; on success it becomes `out` by renames.

    The old report is renamed aside first and deleted only after the new one
    is in place, so a failure at any point leaves a complete site at `out`.
    """
    parent, name = os.path.split(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a site is for reading
        old = tmp + ".old"
        if os.path.exists(out):
            os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            if os.path.exists(old):
                os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)

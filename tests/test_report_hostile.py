"""`gfr report` treats data as text: hostile strings in every field that reaches a page run nothing.

One small site: four shipped cells whose cre lines are markup and script, two
of them with processed recordings whose species is markup, one cell only in a
fit folder (species, cre line), and a dataset whose folder and file names hold
quotes and markup. Chromium loads the index and every cell page; nothing may
execute, no dialog may open, and nothing may need the Content-Security-Policy
to stop it (no console error at all): every string shows as literal text.
The cell pages' `load_gfr_model` snippets are then executed exactly as printed.
Last, the files the README and `gfr report --help` point to exist.
"""

import argparse
import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest

import gfr_keras as gk
from gfr_keras.report import build_report
from test_report import _processed_cell

PWNED = "window.__pwned=1"
HOSTILE_CRE_LINES = (
    "<!--",  # the first row: an unescaped comment would hide every row after it
    f"<img src=x onerror={PWNED}>",
    f"</script><script>{PWNED}</script>",
    f"\"'><svg onload={PWNED}>",
)
HOSTILE_SPECIES = (f"<script>{PWNED}</script>", f"<iframe srcdoc=\"<script>parent.__pwned=1</script>\"></iframe>")
FIT_ONLY = {"cell_id": 42, "cre_line": f"javascript:{PWNED}", "species": f"<a href=\"javascript:{PWNED}\">x</a> &amp;"}
DATASET_FOLDER = "it's \"a\" \\ <b>folder"
DATASET_NAME = f"'\"><img src=x onerror={PWNED}>.json"
CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    records = gk.read_dataset(gk.SHIPPED_DATASET_PATH)
    cell_ids = sorted({r["cell_id"] for r in records})[: len(HOSTILE_CRE_LINES)]
    records = [copy.deepcopy(r) for r in records if r["cell_id"] in cell_ids]
    for record in records:
        record["cre-line"] = HOSTILE_CRE_LINES[cell_ids.index(record["cell_id"])]
    dataset = root / DATASET_FOLDER / DATASET_NAME
    dataset.parent.mkdir()
    gk.write_dataset(records, dataset)

    rng = np.random.default_rng(0)
    for cell_id, species in zip(cell_ids[1:], HOSTILE_SPECIES):
        cell = _processed_cell(cell_id, rng)
        cell["species"] = species
        gk.write_processed_cell(cell, root / "processed" / f"{cell_id}.h5")
    fits = root / "fits"
    fits.mkdir()
    template = next(r for r in records if (r["bin_size"], r["actv_bin_size"]) == (20, 20))
    fit = {**FIT_ONLY, "bin_size": 20, "actv_bin_size": 20, "status": "ok", "val_evr": 0.2, "test_evr": 0.1,
           "train_loss": 0.3, "test_loss": 0.3, "params": template["params"]}
    (fits / f"{FIT_ONLY['cell_id']}.json").write_text(json.dumps(fit))

    summary = build_report(dataset, root / "site", processed=[root / "processed"], fits=[fits])
    species = {cell_id: s for cell_id, s in zip(cell_ids[1:], HOSTILE_SPECIES)}
    species[FIT_ONLY["cell_id"]] = FIT_ONLY["species"]
    cre_lines = {cell_id: cre for cell_id, cre in zip(cell_ids, HOSTILE_CRE_LINES)}
    cre_lines[FIT_ONLY["cell_id"]] = FIT_ONLY["cre_line"]
    records.append({**template, "cell_id": FIT_ONLY["cell_id"], "cre-line": FIT_ONLY["cre_line"]})
    assert summary["cells"] == len(cre_lines)
    return {"root": root, "site": root / "site", "dataset": dataset, "records": records,
            "cre_lines": cre_lines, "species": species}


@pytest.fixture
def watched_page(browser):
    """A page recording everything that would show that something ran or was blocked."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
    page = context.new_page()
    seen = {"errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda message: seen["errors"].append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: seen["requests"].append(request.url))
    yield page, seen
    context.close()


def _assert_nothing_ran(page, seen):
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert seen["dialogs"] == [] and seen["errors"] == [], seen  # escaped, not blocked by the policy
    assert all(url.startswith(("file://", "blob:")) for url in seen["requests"]), seen["requests"]
    # Structure, whatever the policy: only the page's own scripts, no markup from the data.
    assert page.eval_on_selector_all("script", "s => s.map(x => x.getAttribute('src')).every(Boolean)")
    assert page.locator("img, iframe, svg[onload], [onerror], [onload], a[href^='javascript' i]").count() == 0


def test_every_page_declares_a_policy_without_inline_or_remote_script(hostile_site):
    pages = sorted(hostile_site["site"].rglob("*.html"))
    assert len(pages) == 1 + len(hostile_site["cre_lines"])
    for path in pages:
        text = path.read_text()
        policy = dict(part.strip().split(" ", 1) for part in CSP_META.search(text).group(1).split(";"))
        assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
        assert re.search(r"<script(?![^>]*\ssrc=)", text) is None and re.search(r"\son\w+=", text) is None, path
    for path in hostile_site["site"].rglob("*.js"):
        assert not re.search(r"[<>&]", path.read_text()) or "assets" in path.parts, path  # data scripts escape markup


def test_index_shows_every_hostile_string_as_text(hostile_site, watched_page):
    page, seen = watched_page
    page.goto((hostile_site["site"] / "index.html").as_uri())
    n = len(hostile_site["cre_lines"])
    rows = page.eval_on_selector_all("#rows tr", "rows => rows.map(r => [Number(r.dataset.cell), r.cells[1].textContent, r.cells[2].textContent])")
    assert page.text_content("#count") == f"{n} of {n} cells match" and len(rows) == n
    for cell_id, species, cre_line in rows:
        assert cre_line == hostile_site["cre_lines"][cell_id]
        assert species == hostile_site["species"].get(cell_id, species)
    assert set(hostile_site["species"].values()) <= {row[1] for row in rows}
    options = page.eval_on_selector_all("#cre option", "os => os.map(o => o.textContent)")
    assert sorted(options[1:]) == sorted(hostile_site["cre_lines"].values())
    assert page.text_content("#dataset") == DATASET_NAME and page.title().endswith(DATASET_NAME)
    page.select_option("#cre", label=HOSTILE_CRE_LINES[2])
    assert [row[0] for row in rows if row[2] == HOSTILE_CRE_LINES[2]] == [
        int(x) for x in page.eval_on_selector_all("#rows tr", "rows => rows.map(r => r.dataset.cell)")]
    _assert_nothing_ran(page, seen)

    # The policy is in force at file:// too: a script the page did not load from its own files does not run.
    blocked = page.evaluate("""() => new Promise(done => {
        document.addEventListener('securitypolicyviolation', e => done(e.violatedDirective));
        const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.append(s);
    })""")
    assert blocked.startswith("script-src") and page.evaluate("typeof window.__inline") == "undefined"


def _run_snippet(snippet, folder, monkeypatch):
    """Execute a page's snippet as printed, in `folder`; the neuron it loads."""
    monkeypatch.chdir(folder)
    namespace = {}
    exec(compile(snippet, "<cell page snippet>", "exec"), namespace)  # the text a reader copies
    return namespace["neuron"]


def test_cell_pages_show_hostile_strings_as_text_and_their_snippets_run(hostile_site, watched_page, tmp_path, monkeypatch):
    page, seen = watched_page
    downloaded = []
    for cell_id, cre_line in sorted(hostile_site["cre_lines"].items()):
        page.goto((hostile_site["site"] / "cells" / f"{cell_id}.html").as_uri())
        meta = dict(zip(page.eval_on_selector_all("dl.meta dt", "ds => ds.map(d => d.textContent)"),
                        page.eval_on_selector_all("dl.meta dd", "ds => ds.map(d => d.textContent)")))
        assert meta["cre line"] == cre_line and meta["dataset"] == DATASET_NAME
        assert meta["species"] == hostile_site["species"].get(cell_id, meta["species"])
        assert page.get_attribute("#allen-link", "href").startswith("https://celltypes.brain-map.org/")
        sections = page.eval_on_selector_all(
            "section.config", "ss => ss.map(s => [s.id, s.querySelector('pre.snippet').textContent])")
        records = {f"config-{r['bin_size']}_{r['actv_bin_size']}": r for r in hostile_site["records"] if r["cell_id"] == cell_id}
        assert sorted(s[0] for s in sections) == sorted(records)
        section_id, snippet = sections[0]
        folder = tmp_path / str(cell_id)
        folder.mkdir()
        if "json.load(open(" in snippet:  # a fit outside the dataset: the snippet loads the downloaded record
            with page.expect_download() as download:
                page.click(f"#{section_id} button.download")
            download.value.save_as(folder / download.value.suggested_filename)
            downloaded.append(cell_id)
        neuron = _run_snippet(snippet, folder, monkeypatch)
        assert isinstance(neuron, gk.GFRModel) and neuron.cell_ids == [cell_id]
        assert neuron.get_params()["g"]["b"] == pytest.approx(records[section_id]["params"]["g"]["b"])
        _assert_nothing_ran(page, seen)
    assert downloaded == [FIT_ONLY["cell_id"]]  # both kinds of snippet ran


def test_readme_and_report_help_name_files_that_exist():
    from training.report import add_arguments

    parser = argparse.ArgumentParser(prog="gfr report")
    add_arguments(parser)
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text() + parser.format_help()
    paths = set(re.findall(r"gfr_keras/[\w./-]*\w", text))
    assert "gfr_keras/resources/gfr_dataset.json" in paths
    assert [path for path in sorted(paths) if not (root / path).exists()] == []

"""`gfr report`: the static dataset explorer, checked in headless Chromium from file://.

The fixture is six shipped cells with rewritten cre lines and EVRs (so filters
have a known answer; cell 0 keeps no cre line, as human cells have none) and a processed folder holding two of them (the others
must say "no recordings given"). The browser is Debian's `chromium` driven by
Playwright, with every non-file:// request aborted.
"""

import copy
import json
import os

import numpy as np
import pytest

import gfr_keras as gk
from fixtures import numpy_activation, numpy_gfr
from gfr_keras.report import build_report

N_CELLS = 6
CRE_LINES = ("Sst-IRES-Cre", "Pvalb-IRES-Cre")
RECORDED = (1, 2)  # fixture cell indices with processed recordings


def _gfr(argv):
    from training.cli import main

    return main(argv)


def _fixture_records():
    """Six shipped cells; cre line by half (cell 0 none, a human cell's null), EVRs from (cell, configuration)
    index, cell 0 fails the filters."""
    records = gk.read_dataset(gk.SHIPPED_DATASET_PATH)
    cell_ids = sorted({r["cell_id"] for r in records})[:N_CELLS]
    out = []
    for record in records:
        if record["cell_id"] not in cell_ids:
            continue
        record = copy.deepcopy(record)
        i = cell_ids.index(record["cell_id"])
        k = gk.CONFIGURATIONS.index((record["bin_size"], record["actv_bin_size"]))
        record["cre-line"] = None if i == 0 else CRE_LINES[i * 2 // N_CELLS]
        record["test_evr"] = round(0.3 + 0.1 * i + 0.01 * k, 4)
        record["val_evr"] = round(0.45 + 0.1 * i, 4)
        out.append(record)
    return out, cell_ids


def _processed_cell(cell_id, rng):
    """A small processed cell: five Long Squares and three Noise 2 repeats at every bin size."""
    sweeps, number = {}, 0
    base_ms = 10

    def binned(values_10ms):
        return {b: values_10ms[: len(values_10ms) // (b // base_ms) * (b // base_ms)].reshape(-1, b // base_ms).mean(1)
                for b in (10, 20, 50, 100)}

    for amplitude in (60.0, 120.0, 180.0, 240.0, 300.0):
        current = np.full(100, amplitude)
        rate = np.full(100, max(0.0, (amplitude - 100.0) / 2000.0))
        sweeps[number] = {"stimulus_name": "Long Square", "current_pa": binned(current), "rate_per_ms": binned(rate)}
        number += 1
    noise = 200.0 + 60.0 * np.sin(np.arange(300) / 7.0) + 20 * rng.standard_normal(300)
    for _ in range(3):
        rate = np.clip((noise - 150.0) / 3000.0 + 0.005 * rng.standard_normal(300), 0, None)
        sweeps[number] = {"stimulus_name": "Noise 2", "current_pa": binned(noise), "rate_per_ms": binned(rate)}
        number += 1
    return {"cell_id": cell_id, "max_firing_rate_per_ms": 0.2, "sampling_rate_hz": 10000.0,
            "species": "Mus musculus", "cre_line": "Sst-IRES-Cre", "sweeps": sweeps}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    records, cell_ids = _fixture_records()
    gk.write_dataset(records, root / "dataset.json")
    rng = np.random.default_rng(0)
    for i in RECORDED:
        gk.write_processed_cell(_processed_cell(cell_ids[i], rng), root / "processed" / f"{cell_ids[i]}.h5")
    out = root / "site"
    assert _gfr(["report", "--dataset", str(root / "dataset.json"), "--processed", str(root / "processed"), "--out", str(out)]) == 0
    return {"root": root, "site": out, "records": records, "cell_ids": cell_ids}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests, errors = [], []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"
    assert all(url.startswith(("file://", "blob:", "data:")) for url in requests), requests


def _row_ids(page):
    return [int(x) for x in page.eval_on_selector_all("#rows tr", "rows => rows.map(r => r.dataset.cell)")]


def test_index_lists_filters_and_sorts(fixture, page):
    page.goto((fixture["site"] / "index.html").as_uri())
    assert sorted(_row_ids(page)) == fixture["cell_ids"]
    assert page.text_content("#count").startswith(f"{N_CELLS} of {N_CELLS} cells")

    page.select_option("#cre", label="Sst-IRES-Cre")
    page.fill("#evr-min", "0.4")
    page.fill("#evr-max", "0.65")
    in_range = {r["cell_id"] for r in fixture["records"] if 0.4 <= r["test_evr"] <= 0.65}
    expected = sorted({r["cell_id"] for r in fixture["records"] if r["cre-line"] == "Sst-IRES-Cre"} & in_range)
    # Each filter alone would let other cells through, so both must work.
    assert expected and set(expected) != in_range and len(expected) < N_CELLS // 2
    assert sorted(_row_ids(page)) == expected
    assert page.text_content("#count").startswith(f"{len(expected)} of {N_CELLS}")
    assert page.evaluate("window.GFR_LAST_FILTER_MS") < 200
    # The histograms count cells: with a few cells left, the count axis still has whole numbers only.
    y_ticks = page.eval_on_selector_all(
        "#fig-evr text.tick[text-anchor=end], #fig-threshold_pa text.tick[text-anchor=end]", "ts => ts.map(t => t.textContent)"
    )
    assert len(y_ticks) >= 4 and all(float(t).is_integer() for t in y_ticks), y_ticks

    page.click("#clear")
    k = gk.CONFIGURATIONS.index((20, 20))
    page.click(f'th[data-sort="test_evr"][data-config="{k}"]')
    shown = page.eval_on_selector_all("#rows tr", f"rows => rows.map(r => r.cells[{3 + 3 * k + 1}].textContent)")
    values = [float(v) for v in shown if v != "–"]
    assert values == sorted(values, reverse=True) and len(values) == sum(r["bin_size"] == 20 and r["actv_bin_size"] == 20 for r in fixture["records"])
    assert all(v == "–" for v in shown[len(values):])  # cells without the configuration last
    page.screenshot(path=str(fixture["root"] / "index.png"))


def _check_cell_page(page, fixture, cell_id):
    records = [r for r in fixture["records"] if r["cell_id"] == cell_id]
    assert page.title() == f"GFR cell {cell_id}"
    assert page.get_attribute("#allen-link", "href") == f"https://celltypes.brain-map.org/experiment/electrophysiology/{cell_id}"
    plots = page.evaluate("window.GFR_PLOTS")
    for record in records:
        key = f"{record['bin_size']}_{record['actv_bin_size']}"
        section = page.locator(f"#config-{key}")
        assert float(section.locator('[data-field="test_evr"]').text_content()) == pytest.approx(record["test_evr"], rel=1e-5)
        assert float(section.locator('[data-field="threshold"]').text_content()) == pytest.approx(record["params"]["g"]["b"][0], rel=1e-5)
        g_series = plots[f"g-{key}"]["series"][0]
        np.testing.assert_allclose(g_series["y"], 1000 * numpy_activation(record["params"]["g"], g_series["x"]), rtol=1e-3, atol=1e-3)
        kernel = plots[f"alpha-{key}"]["series"][0]
        lag_bins = np.asarray(kernel["x"]) / record["bin_size"]
        oracle = (np.asarray(record["params"]["a"][0]) * (1 - np.asarray(record["params"]["ds"])) ** lag_bins[:, None]).sum(1)
        np.testing.assert_allclose(kernel["y"], oracle, rtol=1e-3, atol=1e-6)
    # Every figure drew something: paths with data, or points/bars.
    counts = page.eval_on_selector_all("svg.plot", "svgs => svgs.map(s => s.querySelectorAll('g.data path[d^=M], g.data circle, g.data rect').length)")
    assert counts and min(counts) > 0
    return records, plots


def test_cell_pages_show_the_cell_and_its_recordings(fixture, page):
    page.goto((fixture["site"] / "index.html").as_uri())
    recorded_id = fixture["cell_ids"][RECORDED[0]]
    page.click(f'#rows a[href="cells/{recorded_id}.html"]')
    page.wait_for_load_state()
    assert page.url.endswith(f"cells/{recorded_id}.html")
    records, plots = _check_cell_page(page, fixture, recorded_id)
    cell = gk.read_processed_cell(fixture["root"] / "processed" / f"{recorded_id}.h5")
    assert "no recordings given" not in page.text_content("body")
    for record in records:
        key = f"{record['bin_size']}_{record['actv_bin_size']}"
        noise = plots[f"noise-{key}"]["series"]
        current = [s for _, s in sorted(cell["sweeps"].items()) if s["stimulus_name"] == "Noise 2"][0]["current_pa"][record["bin_size"]]
        exact, _ = numpy_gfr(record["params"], current[None, :])
        np.testing.assert_allclose(noise[-1]["y"], 1000 * exact[0], rtol=1e-3, atol=1e-3)  # the model, simulated
        assert len(plots[f"g-{key}"]["series"]) == 2  # g(I) with its f-I points
    page.screenshot(path=str(fixture["root"] / "cell.png"))

    missing_id = fixture["cell_ids"][0]
    page.goto((fixture["site"] / "cells" / f"{missing_id}.html").as_uri())
    _check_cell_page(page, fixture, missing_id)
    assert page.text_content("#recordings") == "no recordings given"
    assert "cre line(none)" in page.text_content("dl.meta")  # cell 0 has no cre line
    assert page.locator("text=Noise 2: no recordings given").count() == len([r for r in fixture["records"] if r["cell_id"] == missing_id])


def test_invalid_dataset_names_record_and_field_and_writes_nothing(fixture, tmp_path, capsys):
    records = copy.deepcopy(fixture["records"])
    records[3]["val_evr"] = "high"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    assert _gfr(["report", "--dataset", str(path), "--out", str(tmp_path / "site")]) == 2
    error = capsys.readouterr().err
    assert "record 3" in error and "'val_evr'" in error and str(records[3]["cell_id"]) in error
    assert sorted(os.listdir(tmp_path)) == ["bad.json"]


def test_rebuild_replaces_atomically_and_keeps_the_old_site_on_failure(fixture, tmp_path, capsys):
    out = tmp_path / "site"
    dataset = str(fixture["root"] / "dataset.json")
    assert _gfr(["report", "--dataset", dataset, "--out", str(out)]) == 0
    (out / "stale.txt").write_text("from an older build")
    assert _gfr(["report", "--dataset", dataset, "--out", str(out)]) == 0
    assert not (out / "stale.txt").exists() and (out / "index.html").exists()
    assert sorted(os.listdir(tmp_path)) == ["site"]  # no temp or old folders left

    (out / "stale.txt").write_text("still here")
    bad = tmp_path / "bad.json"
    bad.write_text("[{\"cell_id\": 1}]")
    assert _gfr(["report", "--dataset", str(bad), "--out", str(out)]) == 2
    assert (out / "stale.txt").exists() and len(os.listdir(out / "cells")) == 2 * N_CELLS

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("")
    assert _gfr(["report", "--dataset", dataset, "--out", str(precious)]) == 2
    assert "not a gfr report" in capsys.readouterr().err and (precious / "thesis.tex").exists()


def test_fits_add_filtered_out_cells_and_nan_metrics_stay_valid(fixture, tmp_path):
    records = copy.deepcopy(fixture["records"])
    records[0]["test_loss"] = float("nan")  # a record may carry NaN metrics
    dataset = tmp_path / "dataset.json"
    gk.write_dataset(records, dataset)
    fits = tmp_path / "fits_20_20"
    fits.mkdir()
    template = next(r for r in records if (r["bin_size"], r["actv_bin_size"]) == (20, 20))
    kept_out = {"cell_id": 42, "cre_line": "Vip-IRES-Cre", "species": "Homo Sapiens", "bin_size": 20, "actv_bin_size": 20,
                "status": "ok", "val_evr": 0.2, "test_evr": 0.1, "train_loss": 0.3, "test_loss": 0.3, "params": template["params"]}
    failed = {**kept_out, "cell_id": 43, "status": "nan loss", "params": None}
    (fits / "42.json").write_text(json.dumps(kept_out))
    (fits / "43.json").write_text(json.dumps(failed))
    summary = build_report(dataset, tmp_path / "site", fits=[fits])
    assert summary["cells"] == N_CELLS + 1 and summary["fits_skipped"] == 1
    text = (tmp_path / "site" / "data" / "index.js").read_text()
    index = json.loads(text[text.index("=") + 1 :].rstrip().rstrip(";"))
    k = gk.CONFIGURATIONS.index((20, 20))
    row = index["cell_id"].index(42)
    assert index["configurations"][k]["passes"][row] == 0 and index["configurations"][k]["in_dataset"][row] == 0
    assert index["species_names"][index["species"][row]] == "Homo Sapiens"
    page = (tmp_path / "site" / "cells" / f"{records[0]['cell_id']}.js").read_text()
    assert '"test_loss":null' in page and "NaN" not in page

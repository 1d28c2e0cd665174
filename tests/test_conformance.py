"""Published-shaped data through every command: a file written the way the published code writes
it (NaN cre-lines of human cells, float bin sizes, float32 parameters) and the shipped dataset, each
through `load_dataset`, `parameter_table`, `load_gfr_model`, `gfr report` (rendered in Chromium),
`gfr summary`, `gfr export gfr-neurons` (one cell and several), `gfr train-network --neurons
biological --dataset` and `gfr build-dataset --merge`.

Commands run in this process (`training.cli.main`); one report site per dataset is shared.
"""

import json

import numpy as np
import pytest

import gfr_keras as gk
from fixtures import float32_rate_error_scale, numpy_gfr
from published_writer import read_as_published, write_published_dataset
from training.cli import main

NOT_RECORDED = "published dataset, provenance not recorded"
SHIPPED = "fitted to synthetic cells calibrated to the Allen metadata"


def _published_subset(path):
    """Two human and two mouse cells of the shipped dataset with a (20, 20) record, all their records,
    written as `json.dump(utils.to_json(...))` with float bin sizes."""
    records = gk.read_dataset(gk.SHIPPED_DATASET_PATH)
    at_20_20 = [r for r in records if (r["bin_size"], r["actv_bin_size"]) == (20, 20)]
    human = [r["cell_id"] for r in at_20_20 if r["cre-line"] is None][:2]
    mouse = [r["cell_id"] for r in at_20_20 if r["cre-line"] is not None][:2]
    chosen = [r for r in records if r["cell_id"] in human + mouse]
    cre_lines = {r["cell_id"]: r["cre-line"] or "" for r in chosen}
    write_published_dataset(chosen, cre_lines, path, float_bin_sizes=True)
    return human


@pytest.fixture(scope="module", params=["published", "shipped"])
def dataset(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"conformance_{request.param}")
    if request.param == "published":
        path = root / "gfr_dataset.json"
        human = _published_subset(path)
        assert '"cre-line": NaN' in path.read_text() and '"bin_size": 20.0' in path.read_text()
        sentence = NOT_RECORDED
    else:
        path = gk.SHIPPED_DATASET_PATH
        human = sorted({r["cell_id"] for r in gk.read_dataset(path) if r["cre-line"] is None})
        sentence = SHIPPED
    return {"kind": request.param, "path": str(path), "root": root, "records": gk.read_dataset(path),
            "human": human, "sentence": sentence}


@pytest.fixture(scope="module")
def site(dataset):
    out = dataset["root"] / "site"
    assert main(["report", "--dataset", dataset["path"], "--out", str(out)]) == 0
    return out


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
    errors = []
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def test_load_dataset_and_parameter_table(dataset):
    frames = gk.load_dataset(dataset["path"])
    assert sum(len(frame) for frame in frames.values()) == len(dataset["records"])
    table = gk.parameter_table(frames)
    assert len(table) == len(dataset["records"]) and table["cell_id"].dtype == np.int64
    assert set(table[table["cre_line"].isna()]["cell_id"]) == set(dataset["human"])
    assert set(table[table["cell_id"].isin(dataset["human"])]["species"]) == {"Homo Sapiens"}
    assert dataset["sentence"] in gk.describe_provenance(table.attrs["provenance"])


def test_load_gfr_model_gives_the_models_rates(dataset):
    frames = gk.load_dataset(dataset["path"])
    currents = 120 + 80 * np.random.default_rng(0).standard_normal((2, 30))
    for (bin_size, actv), frame in frames.items():
        if frame.empty:
            continue
        record = frame.iloc[0].to_dict()
        model = gk.load_gfr_model(frames, int(record["cell_id"]), bin_size, actv)
        rates = np.asarray(model.predict(currents[..., None], verbose=0))[..., 0]
        expected, traces = numpy_gfr(record["params"], currents)
        bound = 1e-4 * np.abs(expected) + float32_rate_error_scale(record["params"], traces) + 1e-7
        assert np.all(np.abs(rates - expected) <= bound), (bin_size, actv)


def test_report_renders_in_chromium(dataset, site, page):
    page.goto((site / "index.html").as_uri())
    cells = {r["cell_id"] for r in dataset["records"]}
    assert page.text_content("#count").startswith(f"{len(cells)} of {len(cells)} cells")
    assert dataset["sentence"] in page.text_content("#provenance")
    assert "(none)" in page.eval_on_selector_all("#cre option", "options => options.map(o => o.textContent)")
    human = dataset["human"][0]
    page.goto((site / "cells" / f"{human}.html").as_uri())
    assert page.title() == f"GFR cell {human}"
    meta = dict(zip(page.eval_on_selector_all("dl.meta dt", "ns => ns.map(n => n.textContent)"),
                    page.eval_on_selector_all("dl.meta dd", "ns => ns.map(n => n.textContent)")))
    assert meta["cre line"] == "(none)" and meta["species"] == "Homo Sapiens"
    assert dataset["sentence"] in meta["what the dataset is"]
    n_configurations = sum(r["cell_id"] == human for r in dataset["records"])
    assert page.locator("section.config").count() == n_configurations


def test_summary_says_what_the_dataset_is(dataset, capsys):
    assert main(["summary", dataset["path"]]) == 0
    out = capsys.readouterr().out
    assert "what it is: " in out and dataset["sentence"] in out
    cells = {r["cell_id"] for r in dataset["records"]}
    assert f"{len(dataset['records'])} records of {len(cells)} cells" in out


@pytest.mark.parametrize(
    "n_cells",
    [
        1,
        3,
    ],
    ids=["one-cell", "several-cells"],
)
def test_export_gfr_neurons(dataset, n_cells, tmp_path):
    frames = gk.load_dataset(dataset["path"])
    cell_ids = [str(c) for c in frames[(20, 20)]["cell_id"][:n_cells]]
    assert len(cell_ids) == n_cells
    out = tmp_path / "saved_models"
    assert main(["export", "gfr-neurons", "--dataset", dataset["path"], "--configuration", "20,20",
                 "--cell-ids", *cell_ids, "--out", str(out)]) == 0
    manifest = json.loads((out / "gfr_neurons" / "1" / "manifest.json").read_text())
    assert manifest["cell_ids"] == [int(c) for c in cell_ids]
    assert dataset["sentence"] in manifest["dataset"]["provenance"]
    # The copies of the dataset keep its provenance (the shipped one has a sidecar, the published file none).
    for folder in (out, out / "gfr_neurons" / "1" / "assets"):
        assert gk.describe_provenance(gk.read_provenance(folder / "gfr_dataset.json")).startswith(
            gk.describe_provenance(gk.read_provenance(dataset["path"])))


def test_train_network_with_the_datasets_neurons(dataset, tmp_path):
    out = tmp_path / "run"
    assert main(["train-network", "--neurons", "biological", "--dataset", dataset["path"], "--sample-with-replacement",
                 "--epochs", "1", "--n-nodes", "8", "--limit", "16", "--batch-size", "16", "--jit-compile", "off",
                 "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["epochs_this_run"] == 1 and result["dataset"]["path"] == dataset["path"]
    assert dataset["sentence"] in result["dataset"]["provenance"]  # a run says what its neurons were fitted to


def test_build_dataset_merges_with_it(dataset, tmp_path):
    """A fit that replaces one of its records and a fit of a new cell, merged over the file."""
    replaced = next(r for r in dataset["records"] if r["cell_id"] in dataset["human"])
    fits = tmp_path / "fits_20_20"
    fits.mkdir()
    source = {"kind": "allen", "manifest": "cell_types/manifest.json", "reader": "allensdk"}
    for cell_id in (replaced["cell_id"], 1):
        fit = {"cell_id": cell_id, "cre_line": "", "species": "Homo Sapiens", "bin_size": replaced["bin_size"],
               "actv_bin_size": replaced["actv_bin_size"], "status": "ok", "val_evr": 0.9, "test_evr": 0.8,
               "train_loss": 0.1, "test_loss": 0.2, "params": replaced["params"], "config": "default",
               "provenance": {"source": source, "fit": {"config": {"config_name": "default"}, "backend": "tensorflow"}}}
        (fits / f"{cell_id}.json").write_text(json.dumps(fit))
    out = tmp_path / "merged.json"
    assert main(["build-dataset", "--fits", str(fits), "--merge", dataset["path"], "--out", str(out)]) == 0
    merged = gk.read_dataset(out)
    assert len(merged) == len(dataset["records"]) + 1
    assert "NaN" not in out.read_text() and all(r["cre-line"] is None for r in merged if r["cell_id"] in dataset["human"])
    assert sum(len(frame) for frame in read_as_published(out).values()) == len(merged)
    sentence = gk.describe_provenance(gk.read_provenance(out))
    assert "2 records (2 cells) fitted to Allen Cell Types recordings" in sentence
    assert f"{len(dataset['records']) - 1} records" in sentence and dataset["sentence"] in sentence

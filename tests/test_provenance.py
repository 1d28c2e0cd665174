"""Dataset provenance: the sidecar `gfr build-dataset` writes, read back by `load_dataset` and
`parameter_table`, said in one sentence, and a dataset file the published code still reads."""

import copy
import json
import re

import pytest

import gfr_keras as gk
from gfr_keras.dataset import provenance as pv
from gfr_keras.dataset.build import build_dataset
from published_writer import read_as_published, write_published_dataset
from training.cli import main

SHIPPED_SENTENCE = "fitted to synthetic cells calibrated to the Allen metadata"
BANK = pv.synthetic_source("spiking", 7, 25_000, 6, per_line=1)
SETTINGS = pv.fit_settings(config={"config_name": "test"}, degree=1, C=0.0, backend="tensorflow", date="2026-12-01", version="0.1.0")


def _fit(record, source=BANK, settings=SETTINGS, **changes):
    """A fit file's dict (as `read_fits` gives it) that passes the published filters."""
    fit = {
        "cell_id": record["cell_id"], "cre_line": "", "species": "Homo Sapiens",
        "bin_size": record["bin_size"], "actv_bin_size": record["actv_bin_size"], "status": "ok",
        "val_evr": 0.8, "test_evr": 0.7, "train_loss": 0.2, "test_loss": 0.3, "params": record["params"],
        "config": "test", "degree": 1, "C": 0.0, "_path": f"fits/{record['cell_id']}.json",
        "provenance": {"source": source, "fit": settings},
    }
    fit.update(changes)
    return fit


@pytest.fixture
def records(reference):
    return copy.deepcopy([n["record"] for n in reference["neurons"]])


def test_build_load_and_table_carry_the_provenance(records, tmp_path, capsys):
    folder = tmp_path / "fits"
    folder.mkdir()
    for record in records:
        fit = _fit(record)
        (folder / f"{record['cell_id']}.json").write_text(json.dumps({k: v for k, v in fit.items() if k != "_path"}))
    out = tmp_path / "gfr_dataset.json"
    assert main(["build-dataset", "--fits", str(folder), "--out", str(out)]) == 0
    assert f"provenance: {tmp_path / 'gfr_dataset.provenance.json'}: 6 records (6 cells) {SHIPPED_SENTENCE}" in capsys.readouterr().out

    frames = gk.load_dataset(out)
    provenance = frames[(20, 20)].attrs["provenance"]
    assert provenance["matches_file"] and provenance["sources"] == [BANK] and provenance["fits"] == [SETTINGS]
    assert sorted(tuple(row) for row in provenance["records"]) == sorted(
        (r["cell_id"], r["bin_size"], r["actv_bin_size"], 0, 0) for r in records
    )
    table = gk.parameter_table(out)
    assert table.attrs["provenance"] == provenance
    assert gk.describe_provenance(table.attrs["provenance"]) == (
        f"6 records (6 cells) {SHIPPED_SENTENCE} (6-cell spiking bank, seed 7, 25 kHz); "
        "test fit config, TensorFlow backend, gfr-keras 0.1.0, 2026-12-01."
    )
    # The dataset file itself is what the published code reads: a list of the published records.
    published = read_as_published(out)
    assert sum(len(frame) for frame in published.values()) == len(records)
    assert json.loads(out.read_text())[0].keys() == records[0].keys()


def test_a_file_without_sidecar_is_a_published_dataset_without_provenance(records, tmp_path):
    path = tmp_path / "gfr_dataset.json"
    write_published_dataset(records, {r["cell_id"]: "" for r in records}, path, float_bin_sizes=True)
    frames = gk.load_dataset(path)
    assert all(frame.attrs["provenance"] is None for frame in frames.values())
    assert gk.parameter_table(frames).attrs["provenance"] is None
    assert gk.describe_provenance(None) == "published dataset, provenance not recorded"
    assert gk.load_dataset(records)[(10, 20)].attrs["provenance"] is None  # records in memory: nothing recorded


def test_merge_keeps_each_records_source(records, tmp_path):
    published = tmp_path / "published.json"
    write_published_dataset(records, {r["cell_id"]: "" for r in records}, published)
    allen = pv.allen_source(tmp_path / "cache" / "manifest.json")
    fits = [_fit(records[0], source=allen), _fit({**records[1], "cell_id": 7}, source=allen)]
    merged, _, provenance, replaced = build_dataset(fits, merge_with=published)
    assert replaced == 1 and len(merged) == len(records) + 1
    out = tmp_path / "merged.json"
    gk.write_dataset(merged, out, provenance=provenance)
    read = gk.read_provenance(out)
    kinds = {(row[0], row[1]): read["sources"][row[3]]["kind"] for row in read["records"]}
    assert kinds[(records[0]["cell_id"], records[0]["bin_size"])] == "allen"  # the new fit replaced the published record
    assert kinds[(7, records[1]["bin_size"])] == "allen"
    assert sorted(kinds.values()).count("published") == len(records) - 1
    sentence = gk.describe_provenance(read)
    assert "2 records (2 cells) fitted to Allen Cell Types recordings" in sentence
    assert f"{len(records) - 1} records ({len(records) - 1} cells) taken from published.json (published dataset, provenance not recorded)" in sentence

    # Merging again keeps the recorded sources instead of calling the merged file "published".
    again, _, provenance_again, _ = build_dataset([_fit({**records[2], "cell_id": 8})], merge_with=out)
    assert {s["kind"] for s in provenance_again["sources"]} == {"allen", "published", "synthetic"}


def test_a_rewritten_file_does_not_keep_a_stale_provenance(records, tmp_path):
    out = tmp_path / "gfr_dataset.json"
    builder = pv.ProvenanceBuilder()
    for record in records:
        builder.add(record, BANK, SETTINGS)
    gk.write_dataset(records, out, provenance=builder.provenance())
    frames = gk.load_dataset(out)
    # Written again from its DataFrames (filtered): the provenance follows, restricted to what is written.
    kept = {key: frame for key, frame in frames.items() if key != (10, 20)}
    gk.write_dataset(kept, tmp_path / "subset.json")
    subset = gk.read_provenance(tmp_path / "subset.json")
    assert subset["matches_file"] and len(subset["records"]) == len(records) - 1

    # Edited by other code: the hash no longer matches, so the sidecar is not believed.
    data = json.loads(out.read_text())
    data[0]["val_evr"] = 0.99
    out.write_text(json.dumps(data))
    stale = gk.read_provenance(out)
    assert stale["matches_file"] is False
    assert gk.describe_provenance(stale).startswith("published dataset, provenance not recorded")
    # Written by write_dataset without a provenance: the old sidecar is removed.
    gk.write_dataset(records, out)
    assert not (tmp_path / "gfr_dataset.provenance.json").exists() and gk.read_provenance(out) is None


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda p: p.__setitem__("format", "other"), "format"),
        (lambda p: p["sources"][0].__setitem__("kind", "guess"), "sources[0].kind"),
        (lambda p: p["records"][0].__setitem__(3, 5), "records[0]"),
    ],
)
def test_a_malformed_sidecar_names_its_file_and_field(records, tmp_path, mutate, field):
    out = tmp_path / "gfr_dataset.json"
    builder = pv.ProvenanceBuilder()
    for record in records:
        builder.add(record, BANK, SETTINGS)
    gk.write_dataset(records, out, provenance=builder.provenance())
    sidecar = tmp_path / "gfr_dataset.provenance.json"
    data = json.loads(sidecar.read_text())
    mutate(data)
    sidecar.write_text(json.dumps(data))
    with pytest.raises(pv.ProvenanceError, match=rf"{re.escape(str(sidecar))}: field '{re.escape(field)}': expected") as error:
        gk.load_dataset(out)
    assert error.value.field == field and error.value.path == str(sidecar)


def test_the_shipped_dataset_says_it_is_synthetic():
    provenance = gk.read_provenance(gk.SHIPPED_DATASET_PATH)
    assert provenance["matches_file"], "gfr_dataset.json changed without its provenance: rebuild with `make shipped-dataset`"
    (source,) = provenance["sources"]
    assert (source["kind"], source["model"], source["seed"], source["sampling_rate_hz"]) == ("synthetic", "spiking", 2026, 25_000)
    assert len(provenance["records"]) == len(gk.read_dataset(gk.SHIPPED_DATASET_PATH))
    assert SHIPPED_SENTENCE in gk.describe_provenance(provenance)


def test_the_source_travels_from_the_bank_through_preprocessing_and_fitting(bank, processed, tmp_path):
    """synth-cells writes bank.json, preprocess stores it in each processed file, fit in each fit file,
    build-dataset in the sidecar (conftest's bank: 3 cells, seed 1, 50 kHz)."""
    described = json.loads((bank / "bank.json").read_text())
    assert (described["kind"], described["model"], described["seed"], described["sampling_rate_hz"], described["n_cells"]) == (
        "synthetic", "spiking", 1, 50_000.0, 3)
    cells = sorted(processed.glob("*.h5"))
    assert cells and all(gk.read_processed_cell(path)["source"] == described for path in cells)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"config_name": "tiny", "activation_epochs": 2, "activation_repeats": 1,
                                  "hparams": [{"lr": 1e-3, "epochs": 1}]}))
    fits = tmp_path / "fits"
    assert main(["fit", "--processed", str(processed), "--bin-size", "100", "--activation-bin-size", "100",
                 "--config", str(config), "--out", str(fits)]) == 0
    fit = json.loads(sorted(fits.glob("[0-9]*.json"))[0].read_text())
    import keras

    assert fit["provenance"]["source"] == described
    recorded = fit["provenance"]["fit"]
    assert recorded["config"]["config_name"] == "tiny" and recorded["config"]["activation_epochs"] == 2
    assert (recorded["backend"], recorded["gfr_keras_version"], recorded["degree"]) == (keras.backend.backend(), gk.__version__, 1)
    # Two epochs pass no filter: make one fit pass (its metrics only) to see it reach the sidecar.
    fit.update(val_evr=0.9, train_loss=0.1, _path="x")
    merged, _, provenance, _ = build_dataset([fit])
    assert provenance["sources"] == [described] and provenance["fits"] == [recorded]
    assert gk.describe_provenance(provenance).startswith(f"1 record (1 cell) {SHIPPED_SENTENCE} (3-cell spiking bank, seed 1, 50 kHz); tiny fit config")


def test_summary_of_a_run_says_what_its_dataset_is(records, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    write_published_dataset(records, {r["cell_id"]: "" for r in records}, run / "gfr_dataset.json")
    assert main(["summary", str(run), "--saved-models", str(tmp_path / "none")]) == 0
    assert f"{run / 'gfr_dataset.json'}: published dataset, provenance not recorded" in capsys.readouterr().out
    builder = pv.ProvenanceBuilder()
    for record in records:
        builder.add(record, BANK, SETTINGS)
    gk.write_dataset(records, run / "gfr_dataset.json", provenance=builder.provenance())
    assert main(["summary", str(run), "--saved-models", str(tmp_path / "none")]) == 0
    assert f"{run / 'gfr_dataset.json'}: 6 records (6 cells) {SHIPPED_SENTENCE}" in capsys.readouterr().out

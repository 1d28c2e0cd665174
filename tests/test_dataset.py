"""The JSON parameter dataset, its pandas view and model lookup."""

import copy
import re
import json

import numpy as np
import pandas as pd
import pytest

import gfr_keras as gk
from gfr_keras.dataset.lookup import float64_available

pytestmark = pytest.mark.backend_agnostic


@pytest.fixture
def records(reference):
    return copy.deepcopy([n["record"] for n in reference["neurons"]])


@pytest.fixture
def dataset_path(tmp_path, records):
    path = tmp_path / "gfr_dataset.json"
    gk.write_dataset(records, path)
    return path


def test_write_then_read_is_identical(dataset_path, records):
    assert gk.read_dataset(dataset_path) == records


def test_load_dataset_has_six_configurations(dataset_path):
    frames = gk.load_dataset(dataset_path)
    assert list(frames) == list(gk.CONFIGURATIONS)
    for (bin_size, actv_bin_size), frame in frames.items():
        assert list(frame.columns) == gk.COLUMNS
        assert len(frame) == 1
        assert frame["bin_size"].tolist() == [bin_size]
        assert frame["actv_bin_size"].tolist() == [actv_bin_size]
        assert frame["cell_id"].dtype == np.int64
        assert frame["val_evr"].dtype == np.float64


def test_empty_configurations_are_empty_frames(records):
    frames = gk.load_dataset(records[:1])
    assert len(frames[(10, 20)]) == 1
    assert all(len(frames[c]) == 0 for c in gk.CONFIGURATIONS[1:])
    assert list(frames[(20, 20)].columns) == gk.COLUMNS


def test_write_dataset_accepts_frames_and_keeps_null_metrics(tmp_path, records):
    records[0]["val_evr"] = None
    frames = gk.load_dataset(records)
    assert np.isnan(frames[(10, 20)]["val_evr"].iloc[0])
    gk.write_dataset(frames, tmp_path / "again.json")
    again = gk.read_dataset(tmp_path / "again.json")
    assert sorted(again, key=lambda r: r["cell_id"]) == sorted(records, key=lambda r: r["cell_id"])


@pytest.mark.parametrize("index", range(6))
def test_load_gfr_model_reproduces_reference_neuron(dataset_path, reference, index):
    neuron = reference["neurons"][index]
    record = neuron["record"]
    frames = gk.load_dataset(dataset_path)
    model = gk.load_gfr_model(frames, record["cell_id"], record["bin_size"], record["actv_bin_size"])
    rates = np.asarray(model.predict(np.array(neuron["currents_pA"])[..., None], verbose=0))
    assert rates.shape == (3, 400, 1)
    ref = np.array(neuron["rates_per_ms"])
    np.testing.assert_allclose(rates[..., 0], ref, rtol=2e-3, atol=1e-6)
    if float64_available():
        assert model.get_params() == record["params"]
    else:
        np.testing.assert_allclose(model.get_params()["a"], record["params"]["a"], rtol=1e-6)


def test_get_params_round_trips_through_a_written_dataset(tmp_path, dataset_path, records):
    """Dataset -> model -> get_params -> dataset gives the same file."""
    frames = gk.load_dataset(dataset_path)
    rebuilt = []
    for record in records:
        model = gk.load_gfr_model(frames, record["cell_id"], record["bin_size"], record["actv_bin_size"])
        rebuilt.append({**record, "params": model.get_params()})
    gk.write_dataset(rebuilt, tmp_path / "rebuilt.json")
    if float64_available():
        assert (tmp_path / "rebuilt.json").read_text() == dataset_path.read_text()


def test_model_file_round_trip(tmp_path, dataset_path, reference):
    import keras

    record = reference["neurons"][3]["record"]
    model = gk.load_gfr_model(dataset_path, record["cell_id"], 20, 100)
    model.save(tmp_path / "neuron.keras")
    loaded = keras.saving.load_model(tmp_path / "neuron.keras")
    current = np.array(reference["neurons"][3]["currents_pA"])[..., None]
    np.testing.assert_array_equal(loaded.predict(current, verbose=0), model.predict(current, verbose=0))
    assert loaded.get_params() == model.get_params()
    assert loaded.cell_ids == [record["cell_id"]]


def test_population_from_records(records):
    layer = gk.population_from_records([r for r in records if r["bin_size"] == 20], return_sequences=True)
    assert layer.units == 2 and layer.n_traces == 8
    assert [p["g"]["bin_size"] for p in layer.get_params()] == [20, 100]


def test_unknown_cell_is_a_key_error_naming_it(dataset_path):
    with pytest.raises(KeyError, match=r"cell_id 42 is not in the dataset for configuration \(bin_size_ms=20, activation_bin_size_ms=20\); it is not in the dataset at any configuration"):
        gk.load_gfr_model(dataset_path, 42, 20, 20)


def test_a_cell_at_other_configurations_is_an_error_saying_where(records):
    cell_id, configuration = records[0]["cell_id"], (records[0]["bin_size"], records[0]["actv_bin_size"])
    elsewhere = [[r["bin_size"], r["actv_bin_size"]] for r in records if r["cell_id"] == cell_id]
    missing_at = next(c for c in gk.CONFIGURATIONS if list(c) not in elsewhere)
    with pytest.raises(KeyError, match=r"it is in the dataset at " + re.escape(str(elsewhere))):
        gk.load_gfr_model(records, cell_id, *missing_at)
    assert configuration != missing_at


def test_cell_id_as_a_string_works_and_other_types_are_named(records):
    record = records[0]
    by_string = gk.load_gfr_model(records, str(record["cell_id"]), record["bin_size"], record["actv_bin_size"])
    assert by_string.cell_ids == [record["cell_id"]]
    with pytest.raises(TypeError, match=r"cell_id: expected an integer \(or a string of digits\), got float 1.5"):
        gk.load_gfr_model(records, 1.5, record["bin_size"], record["actv_bin_size"])


def test_unknown_configuration_is_rejected(dataset_path):
    with pytest.raises(ValueError, match="bin_size_ms/activation_bin_size_ms: expected one of"):
        gk.load_gfr_model(dataset_path, 100100, 20, 50)


def _corrupt(records, index, mutate):
    records = copy.deepcopy(records)
    mutate(records[index])
    return records


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("test_evr"), r"record 2 \(cell_id 100102\): missing field\(s\) \['test_evr'\]"),
        (lambda r: r.update(cell_id="abc"), r"record 2: field 'cell_id': expected a non-negative integer"),
        (lambda r: r.update({"cre-line": 5}), r"record 2 \(cell_id 100102\): field 'cre-line': expected a string or null"),
        (lambda r: r.update(bin_size=30), r"record 2 \(cell_id 100102\): fields 'bin_size'/'actv_bin_size'"),
        (lambda r: r.update(val_evr="high"), r"record 2 \(cell_id 100102\): field 'val_evr'"),
        (lambda r: r["params"]["a"][0].pop(), r"record 2 \(cell_id 100102\): field 'a': expected shape \[1, 8\], got shape \[1, 7\]"),
        (lambda r: r["params"].update(ds=[1.0] * 9), r"field 'ds': expected shape \[8\], got shape \[9\]"),
        (lambda r: r["params"]["b"][0].__setitem__(3, float("nan")), r"field 'b': contains NaN or infinity"),
        (lambda r: r["params"]["g"].pop("max_current"), r"missing field 'g.max_current'"),
        (lambda r: r["params"]["g"].update(poly_coeff=[0.1, 0.2]), r"field 'g.poly_coeff': expected shape \[1, degree \+ 1\]"),
        (lambda r: r["params"]["g"].update(max_firing_rate=[-1.0]), r"field 'g.max_firing_rate': expected a positive rate"),
        (lambda r: r["params"]["g"].update(bin_size=100), r"field 'params.g.bin_size': expected 20 \(the record's actv_bin_size\)"),
        (lambda r: r["params"].update(bin_size=10), r"field 'params.bin_size': expected 20|field 'a': expected shape \[1, 9\]"),
        (lambda r: r["params"]["a"][0].__setitem__(0, "x"), r"field 'a': expected shape \[1, 8\], got a ragged or non-numeric value"),
    ],
)
def test_malformed_record_error_names_file_record_cell_and_field(tmp_path, records, mutate, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_corrupt(records, 2, mutate)))
    with pytest.raises(gk.DatasetError, match=message) as error:
        gk.read_dataset(path)
    assert str(error.value).startswith(str(path))
    with pytest.raises(ValueError, match=message):
        gk.write_dataset(_corrupt(records, 2, mutate), tmp_path / "never.json")
    assert not (tmp_path / "never.json").exists()


def test_duplicate_record_is_rejected(tmp_path, records):
    with pytest.raises(gk.DatasetError, match=r"record 6 \(cell_id 100100\): duplicates record 0"):
        gk.write_dataset(records + [records[0]], tmp_path / "dup.json")


def test_not_json_and_not_a_list(tmp_path):
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(gk.DatasetError, match="broken.json: not valid JSON"):
        gk.read_dataset(tmp_path / "broken.json")
    (tmp_path / "dict.json").write_text("{}")
    with pytest.raises(gk.DatasetError, match="dict.json: expected a JSON list of records"):
        gk.read_dataset(tmp_path / "dict.json")


def test_failed_write_keeps_the_previous_file(dataset_path, records):
    before = dataset_path.read_text()

    class Unserializable:
        pass

    bad = copy.deepcopy(records)
    bad[0]["extra"] = Unserializable()  # passes validation, fails in json.dump
    with pytest.raises(TypeError):
        gk.write_dataset(bad, dataset_path)
    assert dataset_path.read_text() == before
    assert [p.name for p in dataset_path.parent.iterdir()] == [dataset_path.name]


def test_explained_variance_ratio_edge_cases():
    trials = np.array([[0, 1, 0, 2], [0, 1, 1, 2]], dtype=float)
    psth = trials.mean(axis=0)
    assert gk.explained_variance_ratio(trials, psth) == pytest.approx(1.0)
    assert gk.explained_variance_ratio(trials, np.zeros(4)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match=r"prediction: expected shape \[4\]"):
        gk.explained_variance_ratio(trials, np.zeros(5))
    with pytest.raises(ValueError, match="trials: expected shape"):
        gk.explained_variance_ratio(trials[:0], np.zeros(4))
    # One repeat (F14): EV_data = EV(trial, trial) = 1, so the EVR is EV(trial, prediction), finite as published.
    # By hand: var([0, 1, 0, 2]) = 11/16, var([0, 1, 1, 2]) = 1/2, var(difference) = 3/16 -> (19/16 - 3/16) / (19/16).
    assert gk.explained_variance_ratio(trials[:1], trials[1]) == pytest.approx(16 / 19)
    with pytest.raises(ValueError, match="NaN"):
        gk.explained_variance_ratio(trials, np.full(4, np.nan))


def _documented_counts():
    """The "in dataset" column of gfr_keras/resources/README.md's table, per configuration."""
    from importlib import resources

    text = (resources.files("gfr_keras") / "resources" / "README.md").read_text()
    rows = [[v.strip() for v in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]
    header = next(row for row in rows if "cells fitted" in row)
    column = header.index("in dataset")
    return {(int(row[0]), int(row[1])): int(row[column].split()[0]) for row in rows if row[0].isdigit()}


def test_shipped_dataset_loads_and_matches_its_documented_counts():
    frames = gk.load_dataset(gk.SHIPPED_DATASET_PATH)
    counts = {config: len(frame) for config, frame in frames.items()}
    assert counts == _documented_counts()  # the package README's table (docs/benchmarks.md quotes it)
    frame = frames[(20, 20)]
    assert frame["cell_id"].is_unique
    assert (frame["val_evr"] > 0.5).all() and (frame["train_loss"] < 0.45).all()
    row = frame.iloc[0]
    model = gk.load_gfr_model(frames, int(row["cell_id"]), 20, 20)
    rates = np.asarray(model(np.full((1, 50, 1), 300.0)))
    assert rates.shape == (1, 50, 1) and np.all(np.isfinite(rates))

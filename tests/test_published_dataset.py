"""The published dataset file (`json.dump(utils.to_json(...))`) loads: NaN cre-lines, float bin sizes, ints."""

import copy
import json

import numpy as np
import pytest

import gfr_keras as gk
from fixtures import float32_rate_error_scale, numpy_gfr
from published_writer import write_published_dataset

pytestmark = pytest.mark.backend_agnostic


@pytest.fixture
def records(reference):
    return copy.deepcopy([n["record"] for n in reference["neurons"]])


def _cre_lines(records):
    # Even records are human cells (empty line_name in metadata.csv), odd ones mouse.
    return {r["cell_id"]: "" if i % 2 == 0 else "Sst-IRES-Cre" for i, r in enumerate(records)}


@pytest.fixture(params=[False, True], ids=["int-bin-sizes", "float-bin-sizes"])
def published_path(tmp_path, records, request):
    path = tmp_path / "gfr_dataset.json"
    write_published_dataset(records, _cre_lines(records), path, float_bin_sizes=request.param)
    return path


def test_fixture_is_written_like_the_published_file(published_path):
    text = published_path.read_text()
    assert '"cre-line": NaN' in text  # the bare token Python's json writes for NaN
    assert '"cre-line": "Sst-IRES-Cre"' in text


def test_every_record_is_kept_with_missing_cre_lines(published_path, records):
    read = gk.read_dataset(published_path)
    assert [r["cell_id"] for r in read] == [r["cell_id"] for r in records]
    frames = gk.load_dataset(published_path)
    assert sum(len(frame) for frame in frames.values()) == len(records)
    cre = {int(row.cell_id): row._2 for frame in frames.values() for row in frame.itertuples()}
    for index, record in enumerate(records):
        value = cre[record["cell_id"]]
        assert (isinstance(value, float) and np.isnan(value)) if index % 2 == 0 else value == "Sst-IRES-Cre"


@pytest.mark.parametrize("index", range(6))
def test_loaded_neurons_reproduce_the_published_outputs(published_path, reference, index):
    neuron = reference["neurons"][index]
    record = neuron["record"]
    model = gk.load_gfr_model(published_path, record["cell_id"], record["bin_size"], record["actv_bin_size"])
    rates = np.asarray(model.predict(np.array(neuron["currents_pA"])[..., None], verbose=0))[..., 0]
    # The file holds float32-rounded parameters, as get_params' tolist() of float32 tensors.
    stored = next(r for r in gk.read_dataset(published_path) if r["cell_id"] == record["cell_id"])
    _, traces = numpy_gfr(stored["params"], neuron["currents_pA"])
    ref = np.array(neuron["rates_per_ms"])
    bound = 1e-4 * np.abs(ref) + float32_rate_error_scale(stored["params"], traces) + 1e-7
    assert np.all(np.abs(rates - ref) <= bound)


def test_ints_where_floats_are_expected_load(tmp_path, records):
    path = tmp_path / "ints.json"
    write_published_dataset(records, _cre_lines(records), path)
    data = json.loads(path.read_text())
    data[0]["params"]["g"]["max_current"] = [100]
    data[0]["params"]["g"]["b"] = [0]
    data[0]["val_evr"] = 1
    path.write_text(json.dumps(data))
    frames = gk.load_dataset(path)
    assert frames[(10, 20)]["val_evr"].dtype == np.float64
    model = gk.load_gfr_model(frames, data[0]["cell_id"], 10, 20)
    assert model.get_params()["g"]["max_current"] == [100.0]


def test_our_writer_writes_null_for_a_missing_cre_line(tmp_path, published_path):
    again = tmp_path / "again.json"
    gk.write_dataset(gk.load_dataset(published_path), again)
    text = again.read_text()
    assert "NaN" not in text and '"cre-line": null' in text
    json.loads(text, parse_constant=lambda token: pytest.fail(f"non-strict JSON token {token}"))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.__setitem__("cre-line", 7), r"record 0 \(cell_id 100100\): field 'cre-line': expected a string or null, got 7"),
        (lambda r: r["params"].__setitem__("bin_size", 20.5), r"record 0 \(cell_id 100100\): field 'bin_size': expected one of"),
        (lambda r: r.__setitem__("val_evr", "high"), r"record 0 \(cell_id 100100\): field 'val_evr': expected a finite number or null"),
    ],
)
def test_malformed_published_records_still_fail_precisely(tmp_path, records, mutate, message):
    path = tmp_path / "bad.json"
    write_published_dataset(records, _cre_lines(records), path)
    data = json.loads(path.read_text())
    mutate(data[0])
    path.write_text(json.dumps(data))
    with pytest.raises(gk.DatasetError, match=rf"{path}: {message}"):
        gk.read_dataset(path)

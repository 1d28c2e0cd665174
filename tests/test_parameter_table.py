"""`parameter_table` (the dataset as one tidy DataFrame) and the quantised EVR."""

import copy

import numpy as np
import pytest

import gfr_keras as gk

pytestmark = pytest.mark.backend_agnostic

#: A human specimen id in the shipped Allen metadata (donor__species "Homo Sapiens").
HUMAN_CELL = 525011903


@pytest.fixture
def records(reference):
    records = copy.deepcopy([n["record"] for n in reference["neurons"]])
    records[2]["cell_id"] = HUMAN_CELL
    records[2]["cre-line"] = float("nan")  # as the published file has it
    return records


def test_one_row_per_record_with_named_parameter_columns(records):
    table = gk.parameter_table(records)
    assert len(table) == len(records)
    assert list(table.columns[:9]) == [
        "bin_size_ms", "activation_bin_size_ms", "cell_id", "cre_line", "species",
        "val_evr", "test_evr", "train_loss", "test_loss",
    ]
    for prefix in ("alpha", "beta", "decay_rate"):
        assert [c for c in table.columns if c.startswith(prefix + "_")] == [f"{prefix}_{i}" for i in range(9)]
    assert {"threshold_pa", "sigma_pa", "gamma_per_ms", "poly_coeff_0", "poly_coeff_1"} <= set(table.columns)


def test_values_equal_the_records(records):
    table = gk.parameter_table(records).set_index("cell_id")
    for record in records:
        row = table.loc[record["cell_id"]]
        params, g = record["params"], record["params"]["g"]
        n = len(params["ds"])
        assert (row["bin_size_ms"], row["activation_bin_size_ms"]) == (record["bin_size"], record["actv_bin_size"])
        assert row["val_evr"] == record["val_evr"] and row["test_loss"] == record["test_loss"]
        assert [row[f"alpha_{i}"] for i in range(n)] == params["a"][0]
        assert [row[f"beta_{i}"] for i in range(n)] == params["b"][0]
        assert [row[f"decay_rate_{i}"] for i in range(n)] == params["ds"]
        assert all(np.isnan(row[f"alpha_{i}"]) for i in range(n, 9))  # fewer traces at this bin size
        assert row["threshold_pa"] == g["b"][0]
        assert row["sigma_pa"] == g["max_current"][0]
        assert row["gamma_per_ms"] == g["max_firing_rate"][0]
        assert [row[f"poly_coeff_{k}"] for k in range(len(g["poly_coeff"][0]))] == g["poly_coeff"][0]


def test_missing_cre_line_and_species(records):
    table = gk.parameter_table(records).set_index("cell_id")
    human = table.loc[HUMAN_CELL]
    assert human["cre_line"] is None and human["species"] == "Homo Sapiens"
    assert table.loc[records[0]["cell_id"]]["species"] is None  # not an Allen specimen
    assert gk.parameter_table(records, species=False)["species"].isna().all()


def test_accepts_frames_and_paths(tmp_path, records):
    path = tmp_path / "dataset.json"
    gk.write_dataset(records, path)
    from_path = gk.parameter_table(path)
    from_frames = gk.parameter_table(gk.load_dataset(path))
    assert from_path.equals(from_frames) and len(from_path) == len(records)


def test_empty_dataset_gives_an_empty_table():
    table = gk.parameter_table([])
    assert len(table) == 0 and "gamma_per_ms" in table.columns


def test_quantize_rates_rounds_to_whole_spikes_per_bin():
    rates = np.array([0.0, 0.024, 0.025, 0.026, 0.074, 0.075, 0.3])
    # 20 ms bins: counts 0, 0.48, 0.5, 0.52, 1.48, 1.5, 6 -> 0, 0, 1, 1, 1, 2, 6 (half rounds up)
    np.testing.assert_allclose(gk.quantize_rates(rates, 20), np.array([0, 0, 1, 1, 1, 2, 6]) / 20)
    with pytest.raises(ValueError, match="bin_size_ms"):
        gk.quantize_rates(rates, 0)


def test_quantized_evr_is_the_evr_of_the_rounded_prediction(reference):
    trials = np.array(reference["evr"]["trials"])
    prediction = np.array(reference["evr"]["prediction"])
    bin_size_ms = 20
    expected = gk.explained_variance_ratio(trials, np.trunc(prediction * bin_size_ms + 0.5) / bin_size_ms)
    assert gk.quantized_explained_variance_ratio(trials, prediction, bin_size_ms) == pytest.approx(expected)
    # Whole-count predictions are unchanged by quantisation.
    counts = np.round(prediction * bin_size_ms) / bin_size_ms
    assert gk.quantized_explained_variance_ratio(trials, counts, bin_size_ms) == pytest.approx(
        gk.explained_variance_ratio(trials, counts)
    )

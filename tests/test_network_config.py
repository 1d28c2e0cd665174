"""`NetworkConfig`: the network's options, defaults and policy in one place; the settings a run records from them."""

import dataclasses
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gfr_keras as gk
from gfr_keras.errors import InvalidParameterError
from gfr_keras.network.config import NetworkConfig, parse_option_overrides
from training.cli import build_parser, main

# What `gfr train-network` recorded (gfr_settings.json; result.json) for these flags before `NetworkConfig` existed,
# captured from that code: a run folder written then must still compare equal (gfr_keras.network.run_folder).
RECORDED_DEFAULTS = {
    "alpha_lr_scale": 1.0, "baseline": None, "batch_size": 64, "beta_lr_scale": 0.001, "configuration": [20, 20],
    "data_dir": None, "dataset": None, "default_neuron_options": {"bin_size_ms": None, "traces": "uniform"},
    "freeze_activation": False, "freeze_neurons": False, "limit": None, "lr": 0.001, "n_nodes": 256, "neurons": "default",
    "neurons_from": None, "protocol": "project", "readout_loss": "all", "sample_with_replacement": False, "scaling": None,
    "scaling_options": None, "seed": 0, "split_seed": 0, "tfds": False, "validation_fraction": 0.1, "variant": "l",
}
SHIPPED = "the shipped dataset"  # its path and provenance, which depend on the checkout
RECORDED = [
    ([], RECORDED_DEFAULTS),
    (["--baseline", "lstm", "--n-nodes", "8", "--scaling-option", "traces=fast"],
     {**RECORDED_DEFAULTS, "alpha_lr_scale": None, "baseline": "lstm", "beta_lr_scale": None, "configuration": None,
      "default_neuron_options": None, "n_nodes": 8, "neurons": None, "readout_loss": None, "scaling_options": {"traces": "fast"}}),
    (["--neurons", "biological", "--sample-with-replacement", "--freeze-neurons", "--seed", "3", "--scaling-option",
      "centre_drive=false", "--scaling-option", "drive_width=sigma", "--lr", "5e-3"],
     {**RECORDED_DEFAULTS, "alpha_lr_scale": 0.01, "dataset": SHIPPED, "default_neuron_options": None, "freeze_neurons": True,
      "lr": 0.005, "neurons": "biological", "sample_with_replacement": True, "scaling": "neuron",
      "scaling_options": {"centre_drive": False, "drive_width": "sigma"}, "seed": 3}),
    (["--neurons", "biological", "--protocol", "reference", "--configuration", "10,20"],  # the options as asked for
     {**RECORDED_DEFAULTS, "configuration": [10, 20], "dataset": SHIPPED, "default_neuron_options": None,
      "neurons": "biological", "protocol": "reference", "scaling": "neuron"}),
    (["--neurons", "biological", "--scaling", "reference", "--alpha-lr-scale", "0.5"],
     {**RECORDED_DEFAULTS, "alpha_lr_scale": 0.5, "dataset": SHIPPED, "default_neuron_options": None, "neurons": "biological",
      "scaling": "reference"}),
    (["--scaling-option", "traces=fast", "--scaling-option", "bin_size_ms=20", "--readout-loss", "first", "--variant", "p",
      "--freeze-activation", "--beta-lr-scale", "1", "--split-seed", "4", "--batch-size", "32"],
     {**RECORDED_DEFAULTS, "batch_size": 32, "beta_lr_scale": 1.0, "default_neuron_options": {"bin_size_ms": "20", "traces": "fast"},
      "freeze_activation": True, "readout_loss": "first", "scaling_options": {"bin_size_ms": "20", "traces": "fast"},
      "split_seed": 4, "variant": "p"}),
    (["--protocol", "reference", "--scaling-option", "traces=uniform", "--limit", "256", "--tfds"],
     {**RECORDED_DEFAULTS, "default_neuron_options": {"bin_size_ms": None, "traces": "fast"}, "limit": 256,
      "protocol": "reference", "scaling_options": {"traces": "uniform"}, "tfds": True}),
    (["--neurons-from", "some/run", "--data-dir", "mnist", "--epochs", "3"],
     {**RECORDED_DEFAULTS, "data_dir": "mnist", "default_neuron_options": None, "neurons_from": "some/run"}),
]


@pytest.mark.parametrize("flags, expected", RECORDED)
def test_runs_record_the_settings_they_recorded_before_the_config(flags, expected, tmp_path):
    from gfr_keras.dataset import describe_provenance, read_provenance
    from gfr_keras.network.train import run_settings
    from training.train_network import recorded_settings

    args = build_parser().parse_args(["train-network", *flags, "--out", str(tmp_path)])
    if expected["dataset"] == SHIPPED:
        path = os.fspath(gk.SHIPPED_DATASET_PATH)
        expected = {**expected, "dataset": {"path": path, "provenance": describe_provenance(read_provenance(path))}}
    assert run_settings(recorded_settings(args), args.batch_size, args.seed) == expected


def test_the_policy_lives_in_the_config():
    assert NetworkConfig().alpha_learning_rate_scale == 1.0
    assert NetworkConfig(neuron_kind="biological").alpha_learning_rate_scale == 1e-2
    assert NetworkConfig(neuron_kind="biological", training_protocol="reference").alpha_learning_rate_scale == 1.0
    assert NetworkConfig(neuron_kind="biological", alpha_learning_rate_scale=0.5).alpha_learning_rate_scale == 0.5
    reference = NetworkConfig(training_protocol="reference", readout_loss="all", beta_learning_rate_scale=1e-3).training()
    assert reference == {"readout_loss": "first", "multipliers": {"beta": 1.0, "alpha": 1.0},
                         "adam": {"epsilon": 1e-8, "epsilon_placement": "pytorch"}}
    assert NetworkConfig(training_protocol="reference", scaling="neuron").applied_scaling == "reference"
    assert NetworkConfig(configuration="10,20").configuration == (10, 20)
    # The keyword form keeps its old defaults, and routes `scaling_options` to the neurons' own options.
    keywords = NetworkConfig.from_keywords(8, neuron_kind="biological", scaling_options={"centre_drive": False})
    assert keywords.alpha_learning_rate_scale == 1.0 and keywords.neuron_scaling_options == {"centre_drive": False}
    assert NetworkConfig.from_keywords(8, scaling_options={"traces": "fast"}).default_neuron_options == {"traces": "fast"}
    assert parse_option_overrides(["centre_drive=False", "bin_size_ms=20"]) == {"centre_drive": False, "bin_size_ms": "20"}


@pytest.mark.parametrize("fields, parameter, text", [
    ({"units": 0}, "units", "units: expected a value >= 1, got 0"),
    ({"training_protocol": "published"}, "training_protocol",
     "training_protocol: expected one of ['project', 'reference'], got 'published'"),
    ({"neuron_kind": "fitted"}, "neuron_kind", "neuron_kind: expected one of ['default', 'biological'], got 'fitted'"),
    ({"readout_loss": "last"}, "readout_loss", "readout_loss: expected one of"),
    ({"learning_rate": float("nan")}, "learning_rate", "learning_rate: expected a finite number"),
    ({"configuration": (20, 30)}, "configuration", "configuration: expected a (bin, activation bin) pair"),
    ({"freeze_neurons": "yes"}, "freeze_neurons", "freeze_neurons: expected True or False"),
    ({"neuron_kind": "biological", "neuron_scaling_options": {"bogus": 1}}, "neuron_scaling_options", "unknown ['bogus']"),
    ({"neuron_kind": "biological", "neuron_scaling_options": {"drive_width": "wide"}}, "neuron_scaling_options",
     "drive_width: expected one of ['slope', 'sigma', 'reference'], got 'wide'"),
    ({"default_neuron_options": {"bin_size_ms": 7}}, "default_neuron_options", "bin_size_ms (default neurons' traces)"),
])
def test_each_field_is_checked_and_named(fields, parameter, text):
    with pytest.raises(InvalidParameterError) as caught:
        NetworkConfig(**fields)
    assert caught.value.parameter == parameter and text in str(caught.value)


def test_options_the_model_does_not_read_are_not_checked():
    """As before the config: a baseline, or the published scaling, reads no neuron options."""
    NetworkConfig(baseline="gru", default_neuron_options={"bogus": 1})
    NetworkConfig(training_protocol="reference", default_neuron_options={"bogus": 1})
    NetworkConfig(neuron_kind="biological", default_neuron_options={"centre_drive": False})


def test_the_command_names_its_flag(tmp_path, capsys):
    assert main(["train-network", "--neurons", "biological", "--scaling-option", "bogus=1", "--out", str(tmp_path)]) == 2
    assert "--scaling-option: scaling options: unknown ['bogus']" in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # refused before any work


def test_a_config_and_its_keyword_form_build_the_same_model():
    from gfr_keras.network.train import build_model

    config = NetworkConfig(units=6, neuron_kind="biological", seed=2, sample_with_replacement=True, jit_compile=False)
    by_config = build_model(config)
    by_keywords = build_model(6, neuron_kind="biological", seed=2, sample_with_replacement=True, jit_compile=False,
                              alpha_learning_rate_scale=1e-2)
    for mine, theirs in zip(by_config.weights, by_keywords.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine.value), np.asarray(theirs.value), err_msg=mine.path)
    assert by_config.optimizer.multipliers == by_keywords.optimizer.multipliers == {"beta": 1e-3, "alpha": 1e-2}
    with pytest.raises(InvalidParameterError, match="config: a NetworkConfig and keywords"):
        build_model(config, seed=3)
    # compile_network's keyword form: the learning rate by name or by position, its own defaults otherwise.
    from gfr_keras.network.model import compile_network

    for args, keywords, rate in (((), {"learning_rate": 3e-2}, 3e-2), ((1e-2,), {}, 1e-2), ((), {}, 1e-3)):
        compiled = compile_network(by_keywords, *args, **keywords)
        assert float(compiled.optimizer.learning_rate) == pytest.approx(rate) and compiled.jit_compile in ("auto", False)
    assert build_model(dataclasses.replace(config, baseline="gru")).name == "gru"


def test_a_biological_neuron_is_checked_once_on_its_way_into_a_network(monkeypatch):
    """The dataset's records are checked when it is read; building a network checks each drawn neuron once more
    (`stack_params` in `biological_neurons`), not again for a throwaway cell or for assigning it."""
    import gfr_keras.neurons.params as params
    from gfr_keras.network.model import build_gfr_network

    frames = gk.load_dataset(gk.SHIPPED_DATASET_PATH)
    checked = []
    original = params.validate_params
    monkeypatch.setattr(params, "validate_params", lambda p, context="params": checked.append(context) or original(p, context))
    model = build_gfr_network(5, neuron_kind="biological", dataset=frames, seed=1)
    assert len(checked) == 5
    network_neurons = model.get_layer("gfr_rnn").cell.neurons.get_params()
    drawn = gk.network.sample_records(frames, 5, seed=1)
    np.testing.assert_allclose([p["g"]["b"] for p in network_neurons], [r["params"]["g"]["b"] for r in drawn], rtol=1e-6)


#: Written by the code before `GFRNetworkCell`'s `neurons` argument became `population` (tests/data/README.md).
NETWORK_BEFORE_RENAMES = Path(__file__).parent / "data" / "network_before_renames.keras"


def _renamed(caught):
    """The warnings of `gfr_keras.network.renamed` among `caught` (Keras and TensorFlow may add their own)."""
    return [warning for warning in caught if "is deprecated; use" in str(warning.message)]


def test_the_old_keywords_build_the_same_network_and_say_so():
    """`neurons=` and `protocol=` (before `neuron_kind=` and `training_protocol=`) still work, with a
    DeprecationWarning at the caller's line; `GFRNetworkCell(neurons=...)` is `population=`."""
    from gfr_keras.network import GFRNetworkCell
    from gfr_keras.network.model import build_gfr_network, compile_network
    from gfr_keras.network.train import build_model

    shared = {"dataset": gk.SHIPPED_DATASET_PATH, "seed": 1, "freeze_activation": True}
    new = build_gfr_network(4, neuron_kind="biological", training_protocol="project", **shared)
    with pytest.warns(DeprecationWarning) as caught:
        old = build_gfr_network(4, neurons="biological", protocol="project", **shared)
    assert [str(warning.message) for warning in _renamed(caught)] == [
        "neurons= is deprecated; use neuron_kind= (same values)", "protocol= is deprecated; use training_protocol= (same values)"]
    assert {warning.filename for warning in _renamed(caught)} == {__file__}
    assert old.name == new.name == "gfr_network_biological"
    for mine, theirs in zip(new.weights, old.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine.value), np.asarray(theirs.value), err_msg=mine.path)
    callers = (
        (lambda: compile_network(old, protocol="reference"), "use training_protocol="),
        (lambda: build_model(4, neurons="default", jit_compile=False), "use neuron_kind="),
        (lambda: NetworkConfig.from_keywords(8, neurons="biological"), "use neuron_kind="),
        (lambda: GFRNetworkCell(3, neurons={"units": 3, "decay_rates": [1.0, 0.5]}), "use population="),
    )
    made = []
    for call, text in callers:
        with pytest.warns(DeprecationWarning, match=text) as caught:
            made.append(call())
        assert [warning.filename for warning in _renamed(caught)] == [__file__], text  # stacklevel: the caller
    compiled, model, config, cell = made
    assert compiled.optimizer.epsilon_placement == "pytorch" and model.name == "gfr_network_default"
    assert config.neuron_kind == "biological" and cell.n_traces == 2
    assert cell.get_config()["population"]["units"] == 3 and "neurons" not in cell.get_config()
    with pytest.raises(InvalidParameterError, match="neuron_kind: given twice") as caught:
        build_gfr_network(4, neurons="default", neuron_kind="default")
    assert caught.value.parameter == "neuron_kind"


def test_a_network_saved_before_the_renames_loads_with_the_same_outputs():
    """A `.keras` file whose cell config names its population `neurons` loads without a warning, its weights
    where they were (the layer is still `GFRNetworkCell.neurons`), and predicts what it predicted then."""
    import keras

    expected = json.loads(NETWORK_BEFORE_RENAMES.with_suffix(".json").read_text())
    with zipfile.ZipFile(NETWORK_BEFORE_RENAMES) as archive:
        layers = json.loads(archive.read("config.json"))["config"]["layers"]
    saved_cell = next(layer for layer in layers if layer["class_name"] == "GFRNetworkRNN")["config"]["cell"]["config"]
    assert "neurons" in saved_cell and "population" not in saved_cell  # the old key, as written then
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(NETWORK_BEFORE_RENAMES)
    assert not _renamed(caught)
    images = np.random.default_rng(0).uniform(size=(2, 28, 28)).astype("float32")
    outputs = dict(loaded(images))
    outputs["rates"] = keras.Model(loaded.input, loaded.get_layer("gfr_rnn").output)(images)  # the population's, every step
    assert np.asarray(expected["rates"]).any()  # neurons that fire: the outputs depend on the loaded weights
    for key in ("rates", "logits", "readout_logits", "probabilities"):
        np.testing.assert_allclose(np.asarray(outputs[key]), expected[key], rtol=1e-5, atol=1e-7, err_msg=key)
    config = loaded.get_layer("gfr_rnn").cell.get_config()
    assert "population" in config and "neurons" not in config  # written back under the new name


@pytest.mark.parametrize("training_protocol", ["project", "reference"])
def test_a_seed_builds_the_same_biological_network(training_protocol):
    # The reference protocol's input initializer is made with the population, before the model's layers.
    build = lambda: gk.build_gfr_network(16, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, seed=5,
                                         sample_with_replacement=True, training_protocol=training_protocol)
    first, second = build(), build()
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)

"""The Keras layers: shapes, RNN options, serialization, freezing, training, bad input."""

import numpy as np
import pytest
import keras

import gfr_keras as gk

pytestmark = pytest.mark.backend_agnostic


def reference_params(reference, bin_size=None):
    records = [n["record"] for n in reference["neurons"]]
    return [r["params"] for r in records if bin_size is None or r["bin_size"] == bin_size]


def step_current(batch=2, time=30, units=1, amplitude=120.0):
    current = np.zeros((batch, time, units), dtype="float32")
    current[:, 5:, :] = amplitude * (1 + np.arange(batch, dtype="float32"))[:, None, None] / batch
    return current


def test_fresh_neuron_follows_its_current():
    """alpha = [n, 0...], beta = 0: mean(h) equals the current, so f = max(0, tanh(I))."""
    layer = gk.GFR(3, bin_size_ms=20, return_sequences=True)
    current = np.linspace(-2, 2, 12, dtype="float32").reshape(1, 12, 1)
    rates = np.asarray(layer(current))
    assert rates.shape == (1, 12, 3)
    np.testing.assert_allclose(rates[0, :, 0], np.maximum(0, np.tanh(current[0, :, 0])), rtol=1e-6, atol=1e-7)


def test_decay_rates_follow_the_spec_table():
    assert gk.decay_rates(10) == pytest.approx(
        [1, 0.6321, 0.3935, 0.1813, 0.0952, 0.0488, 0.0198, 0.0100, 0.0050], abs=5e-5
    )
    assert gk.decay_rates(100) == pytest.approx([1, 0.6321, 0.3935, 0.1813, 0.0952, 0.0488], abs=5e-5)
    assert [len(gk.decay_rates(b)) for b in (10, 20, 50, 100)] == [9, 8, 7, 6]
    with pytest.raises(ValueError, match="bin_size_ms"):
        gk.decay_rates(30)


def test_single_current_drives_every_unit_like_a_per_unit_current(reference):
    params = reference_params(reference, bin_size=10)
    layer = gk.GFR.from_params(params, return_sequences=True)
    current = step_current()
    shared = np.asarray(layer(current))
    per_unit = np.asarray(layer(np.repeat(current, 2, axis=-1)))
    np.testing.assert_array_equal(shared, per_unit)


def test_population_unit_equals_neuron_alone(reference):
    params = reference_params(reference, bin_size=20)
    together = np.asarray(gk.GFR.from_params(params, return_sequences=True)(step_current()))
    for unit, p in enumerate(params):
        alone = np.asarray(gk.GFR.from_params([p], return_sequences=True)(step_current()))
        np.testing.assert_allclose(together[..., unit], alone[..., 0], rtol=1e-6, atol=1e-9)


def test_mixed_degree_population_round_trips_params(reference):
    params = reference_params(reference, bin_size=10)  # degrees 1 and 3
    layer = gk.GFR.from_params(params)
    assert layer.activation.degree == 3
    got = layer.get_params()
    assert [len(p["g"]["poly_coeff"][0]) for p in got] == [2, 4]
    assert [p["g"]["bin_size"] for p in got] == [20, 100]
    for mine, theirs in zip(got, params):
        np.testing.assert_allclose(mine["a"], theirs["a"], rtol=1e-6)
        np.testing.assert_allclose(mine["g"]["poly_coeff"], theirs["g"]["poly_coeff"], rtol=1e-6)
        assert mine["ds"] == theirs["ds"]


def test_last_output_state_and_sequences_agree(reference):
    params = reference_params(reference, bin_size=20)
    layer = gk.GFR.from_params(params, return_sequences=True, return_state=True)
    sequences, f, h = layer(step_current())
    assert sequences.shape == (2, 30, 2)
    assert h.shape == (2, 2 * 8) and f.shape == (2, 2)
    np.testing.assert_allclose(np.asarray(f), np.asarray(sequences)[:, -1], rtol=1e-6)
    _, traces = layer.simulate(step_current())
    np.testing.assert_allclose(np.asarray(h).reshape(2, 2, 8), np.asarray(traces)[:, -1], rtol=1e-5, atol=1e-4)


def test_return_state_in_a_functional_model():
    inputs = keras.Input((None, 1))
    rates, f, h = gk.GFR(4, return_sequences=True, return_state=True)(inputs)
    model = keras.Model(inputs, [rates, f, h])
    out = model.predict(step_current(), verbose=0)
    assert [o.shape for o in out] == [(2, 30, 4), (2, 4), (2, 4 * 8)]


def test_initial_state_continues_a_run(reference):
    """Running in two halves with the state handed over equals one run."""
    params = reference_params(reference, bin_size=50)
    layer = gk.GFR.from_params(params, return_sequences=True, return_state=True)
    current = step_current(time=40)
    whole, _, _ = layer(current)
    first, f, h = layer(current[:, :25])
    second, _, _ = layer(current[:, 25:], initial_state=[f, h])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-6, atol=1e-9)


def test_stateful_layer_carries_state_between_calls(reference):
    params = reference_params(reference, bin_size=100)
    current = step_current(time=40)
    whole = np.asarray(gk.GFR.from_params(params, return_sequences=True)(current))
    stateful = gk.GFR.from_params(params, return_sequences=True, stateful=True)
    halves = [np.asarray(stateful(current[:, :20])), np.asarray(stateful(current[:, 20:]))]
    np.testing.assert_allclose(np.concatenate(halves, axis=1), whole, rtol=1e-6, atol=1e-9)
    stateful.reset_states()
    np.testing.assert_allclose(np.asarray(stateful(current[:, :20])), whole[:, :20], rtol=1e-6, atol=1e-9)


def test_masked_steps_keep_the_state(reference):
    params = reference_params(reference, bin_size=20)
    layer = gk.GFR.from_params(params, return_sequences=True)
    current = step_current(batch=1, time=20)
    padded = np.concatenate([current, np.zeros((1, 5, 1), "float32")], axis=1)
    mask = np.concatenate([np.ones((1, 20), bool), np.zeros((1, 5), bool)], axis=1)
    out = np.asarray(layer(padded, mask=mask))
    np.testing.assert_allclose(out[:, :20], np.asarray(layer(current)), rtol=1e-6)
    np.testing.assert_allclose(out[:, 20:], np.repeat(out[:, 19:20], 5, axis=1), rtol=1e-6)


def test_get_config_round_trip(reference):
    params = reference_params(reference, bin_size=10)
    layer = gk.GFR.from_params(params, return_sequences=True, freeze_alpha_beta=True)
    config = layer.get_config()
    clone = gk.GFR.from_config(config)
    clone.build((None, None, 1))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(clone(step_current())), np.asarray(layer(step_current())))
    assert clone.cell.freeze_alpha_beta and not clone.cell.alpha.trainable

    cell = layer.cell
    cell_clone = gk.GFRCell.from_config(cell.get_config())
    assert cell_clone.get_config() == cell.get_config()
    activation = layer.activation
    activation_clone = gk.PolynomialActivation.from_config(activation.get_config())
    assert activation_clone.get_config() == activation.get_config()


def test_keras_file_round_trip_keeps_outputs_and_freezing(tmp_path, reference):
    params = reference_params(reference, bin_size=20)
    inputs = keras.Input((None, 1))
    gfr = gk.GFR.from_params(params, return_sequences=True, freeze_activation=True)
    model = keras.Model(inputs, keras.layers.Dense(1)(gfr(inputs)))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(step_current(), verbose=0), model.predict(step_current(), verbose=0)
    )
    loaded_gfr = [layer for layer in loaded.layers if isinstance(layer, gk.GFR)][0]
    assert not loaded_gfr.activation.trainable
    assert loaded_gfr.cell.alpha.trainable
    assert loaded_gfr.get_params() == gfr.get_params()


def test_activation_keras_file_round_trip(tmp_path, reference):
    g = reference["activation"]["g_params"]
    inputs = keras.Input((1,))
    model = keras.Model(inputs, gk.PolynomialActivation.from_params([g])(inputs))
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    z = np.linspace(-100, 300, 50, dtype="float32")[:, None]
    np.testing.assert_array_equal(loaded.predict(z, verbose=0), model.predict(z, verbose=0))


def _trainable_names(layer):
    return sorted(v.path.split("/")[-1] for v in layer.trainable_weights)


def test_freeze_options_choose_the_trainable_weights():
    assert _trainable_names(_built(gk.GFR(2))) == ["alpha", "beta", "poly_coeff", "threshold_pa"]
    assert _trainable_names(_built(gk.GFR(2, freeze_activation=True))) == ["alpha", "beta"]
    assert _trainable_names(_built(gk.GFR(2, freeze_alpha_beta=True))) == ["poly_coeff", "threshold_pa"]
    assert _trainable_names(_built(gk.GFR(2, freeze_activation=True, freeze_alpha_beta=True))) == []


def _built(layer):
    layer.build((None, None, 1))
    return layer


def test_model_fit_learns_alpha_and_frozen_weights_stay(reference):
    """model.fit recovers a neuron's input kernel from its own output; frozen g does not move."""
    params = reference_params(reference, bin_size=100)[0]
    teacher = gk.GFR.from_params([params], return_sequences=True)
    rng = np.random.default_rng(0)
    current = (100 + 60 * rng.standard_normal((8, 60, 1))).astype("float32")
    target = np.asarray(teacher(current))

    student_params = {**params, "a": [[6.0, 0, 0, 0, 0, 0]], "b": [[0.0] * 6]}
    student = gk.GFR.from_params([student_params], return_sequences=True, freeze_activation=True)
    g_before = [np.array(w) for w in student.activation.get_weights()]
    model = keras.Sequential([keras.Input((None, 1)), student])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    loss_before = model.evaluate(current, target, verbose=0)
    model.fit(current, target, epochs=60, batch_size=8, verbose=0)
    loss_after = model.evaluate(current, target, verbose=0)
    assert loss_after < 0.2 * loss_before
    for before, after in zip(g_before, student.activation.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_padded_coefficients_stay_zero_under_training(reference):
    params = reference_params(reference, bin_size=10)  # degrees 1 and 3
    layer = gk.GFR.from_params(params, return_sequences=True)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    current = step_current(batch=4, time=20)
    model.fit(current, np.zeros((4, 20, 2), "float32") + 0.01, epochs=3, verbose=0)
    coeff = np.asarray(layer.activation.poly_coeff)
    np.testing.assert_array_equal(coeff[0, 2:], 0.0)
    assert len(layer.get_params()[0]["g"]["poly_coeff"][0]) == 2


# -- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_current_is_rejected(bad):
    current = step_current()
    current[1, 7, 0] = bad
    with pytest.raises(ValueError, match=r"current_pa: contains NaN or infinity \(first at index \[1, 7, 0\]\)"):
        gk.GFR(2)(current)
    with pytest.raises(ValueError, match="current_pa: contains NaN"):
        gk.GFR(2).simulate(current)


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="rank-3"):
        gk.GFR(2).simulate(np.zeros((4, 10), "float32"))
    with pytest.raises(ValueError):
        gk.GFR(2)(np.zeros((4, 10), "float32"))


def test_integer_current_is_rejected():
    with pytest.raises(ValueError, match="floating-point"):
        gk.GFR(2)(np.zeros((1, 5, 1), "int32"))


def test_units_mismatch_is_rejected(reference):
    layer = gk.GFR(3)
    with pytest.raises(ValueError, match=r"current_pa: last axis must be 1 .* or units=3, got"):
        layer(np.zeros((1, 5, 2), "float32"))
    with pytest.raises(ValueError, match="2 neurons given for a layer of units=3"):
        gk.GFR(3, bin_size_ms=20).set_params(reference_params(reference, bin_size=20))


def test_bin_size_mismatch_and_unknown_bin_size_are_rejected(reference):
    with pytest.raises(ValueError, match=r"n=9 traces \(bin_size 10\) given for a layer of n=8"):
        gk.GFR(2, bin_size_ms=20).set_params(reference_params(reference, bin_size=10))
    with pytest.raises(ValueError, match="bin_size_ms: expected one of"):
        gk.GFR(2, bin_size_ms=15)
    with pytest.raises(ValueError, match=r"params\[1\]: a population needs one configuration"):
        gk.GFR.from_params(reference_params(reference, bin_size=10)[:1] + reference_params(reference, bin_size=20)[:1])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="units: expected a positive integer"):
        gk.GFR(0)
    with pytest.raises(ValueError, match="decay_rates: every rate must lie in"):
        gk.GFR(2, decay_rates=[1.0, 1.5])
    with pytest.raises(ValueError, match=r"decay_rates: expected shape \[n\] or \[units=2, n\]"):
        gk.GFR(2, decay_rates=[[1.0, 0.5]] * 3)
    with pytest.raises(ValueError, match="degree: expected a non-negative integer"):
        gk.PolynomialActivation(2, degree=-1)


def test_decay_rates_must_match_the_bin_size():
    with pytest.raises(ValueError, match="decay_rates: bin_size_ms=20 implies n=8 traces, got 4"):
        gk.GFR(2, bin_size_ms=20, decay_rates=[1.0, 0.6321, 0.3935, 0.1813])
    assert gk.GFR(2, decay_rates=[1.0, 0.6321, 0.3935, 0.1813]).cell.n_traces == 4


def test_cell_in_a_plain_keras_rnn_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((None, 1))
    cell = gk.GFRCell(3, bin_size_ms=50, degree=2, freeze_alpha_beta=True)
    model = keras.Model(inputs, keras.layers.RNN(cell, return_sequences=True)(inputs))
    cell.alpha.assign(np.random.default_rng(0).normal(7, 1, (3, 7)))
    model.save(tmp_path / "cell.keras")
    loaded = keras.saving.load_model(tmp_path / "cell.keras")
    current = step_current()
    np.testing.assert_array_equal(loaded.predict(current, verbose=0), model.predict(current, verbose=0))
    assert loaded.layers[-1].cell.get_config() == cell.get_config()
    assert not loaded.layers[-1].cell.alpha.trainable


def test_per_unit_decay_rates():
    layer = gk.GFR(2, decay_rates=[[1.0, 0.5], [1.0, 0.1]], return_sequences=True)
    current = step_current(time=40, amplitude=0.3)
    layer.build((None, None, 1))
    layer.cell.alpha.assign(np.ones((2, 2)))  # drive the second traces too
    _, traces = layer.simulate(current)
    traces = np.asarray(traces)
    # Under a constant current a trace settles at alpha * I / lam: faster decay, lower trace.
    np.testing.assert_allclose(traces[1, -1, 0, 1], 0.3 / 0.5, rtol=1e-4)
    np.testing.assert_allclose(traces[1, -1, 1, 1], 0.3 / 0.1, rtol=0.05)
    assert traces[1, -1, 0, 1] < traces[1, -1, 1, 1]


def test_compiled_prediction_equals_the_layer_call(reference):
    """`predict_compiled` (plots and the report use it for whole Noise sweeps) gives the call's values (float64 where the backend has it)."""
    from gfr_keras.neurons.layer import predict_compiled

    params = reference_params(reference, bin_size=10)
    current = step_current(batch=2, time=300, units=len(params)).astype("float64")
    current[:, 100:] += 40.0 * np.sin(np.arange(200) / 7.0)[None, :, None]
    called = np.asarray(gk.GFR.from_params(params, return_sequences=True, dtype="float64")(current))
    predicted = predict_compiled(gk.GFR.from_params(params, return_sequences=True, dtype="float64"), current)
    assert predicted.dtype == called.dtype and predicted.shape == called.shape == (2, 300, len(params))
    assert called.max() > 0
    np.testing.assert_allclose(predicted, called, rtol=1e-7, atol=1e-8)  # 1e-8 /ms: 1e-5 Hz (the order of operations differs)

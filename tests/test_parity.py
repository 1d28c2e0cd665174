"""Parity with the published implementation (spec section 9), on every backend."""

import numpy as np
import pytest

import gfr_keras as gk
from fixtures import float32_rate_error_scale, numpy_activation, numpy_gfr

pytestmark = pytest.mark.backend_agnostic

NEURONS = range(6)


def assert_matches_reference(ours, ref, what, conditioning=0.0):
    """|ours - ref| <= 1e-4 |ref| (+ `conditioning`) where ref != 0; <= 1e-7 where ref == 0.

    `conditioning` is the float32 rounding scale of each value
    (`float32_rate_error_scale`): near the threshold, terms cancel and both the
    published float32 code and ours sit that far from the exact value, which can
    exceed 1e-4 relative (the published reference itself is 1.9e-3 from the
    float64 value at three steps of neuron 2).
    """
    nonzero = ref != 0
    bound = 1e-4 * np.abs(ref) + conditioning
    bad = nonzero & (np.abs(ours - ref) > bound)
    assert not bad.any(), (
        f"{what}: {bad.sum()} values off; first ours={ours[bad][0]} ref={ref[bad][0]} "
        f"bound={np.broadcast_to(bound, ref.shape)[bad][0]}"
    )
    assert np.all(np.abs(ours[~nonzero]) <= 1e-7), f"{what}: non-zero where the reference is 0"


@pytest.mark.parametrize("index", NEURONS)
def test_layer_reproduces_reference_rates_and_traces(reference, index):
    neuron = reference["neurons"][index]
    params = neuron["record"]["params"]
    currents = np.array(neuron["currents_pA"], dtype=np.float32)[..., None]
    ref_rates = np.array(neuron["rates_per_ms"])
    ref_traces = np.array(neuron["hidden_state"])
    _, exact_traces = numpy_gfr(params, neuron["currents_pA"])

    layer = gk.GFR.from_params([params], return_sequences=True)
    rates = np.asarray(layer(currents))[..., 0]
    conditioning = float32_rate_error_scale(params, exact_traces)
    assert_matches_reference(rates, ref_rates, f"rates, neuron {index}", conditioning)

    sim_rates, sim_traces = (np.asarray(x) for x in layer.simulate(currents))
    np.testing.assert_allclose(sim_rates[..., 0], rates, rtol=1e-6, atol=1e-9)
    assert sim_traces.shape == ref_traces.shape[:2] + (1,) + ref_traces.shape[2:]
    assert_matches_reference(sim_traces[:, :, 0], ref_traces, f"traces, neuron {index}")


@pytest.mark.parametrize("index", NEURONS)
def test_float64_model_matches_exact_recurrence(reference, index):
    from gfr_keras.dataset.lookup import float64_available

    if not float64_available():
        pytest.skip("this backend holds no float64 (JAX without jax_enable_x64)")
    neuron = reference["neurons"][index]
    record = neuron["record"]
    model = gk.load_gfr_model([record], record["cell_id"], record["bin_size"], record["actv_bin_size"])
    rates = np.asarray(model(np.array(neuron["currents_pA"])[..., None]))[..., 0]
    exact_rates, _ = numpy_gfr(record["params"], neuron["currents_pA"])
    np.testing.assert_allclose(rates, exact_rates, rtol=1e-10, atol=1e-15)


def test_population_of_all_reference_neurons_of_one_bin_size(reference):
    """Two neurons in one population give each its own reference output."""
    neurons = [n for n in reference["neurons"] if n["record"]["bin_size"] == 20]
    assert len(neurons) == 2
    layer = gk.GFR.from_params([n["record"]["params"] for n in neurons], return_sequences=True)
    currents = np.stack([np.array(n["currents_pA"], dtype=np.float32) for n in neurons], axis=-1)
    rates = np.asarray(layer(currents))
    for unit, neuron in enumerate(neurons):
        params = neuron["record"]["params"]
        _, exact_traces = numpy_gfr(params, neuron["currents_pA"])
        conditioning = float32_rate_error_scale(params, exact_traces)
        ref = np.array(neuron["rates_per_ms"])
        assert_matches_reference(rates[..., unit], ref, f"unit {unit}", conditioning)


def test_activation_curve(reference):
    case = reference["activation"]
    layer = gk.PolynomialActivation.from_params([case["g_params"]])
    z = np.array(case["z_pA"], dtype=np.float32)[:, None]
    ours = np.asarray(layer(z))[:, 0]
    ref = np.array(case["g_per_ms"])
    assert (ref == 0).any() and (ref != 0).any()
    np.testing.assert_allclose(ref, numpy_activation(case["g_params"], case["z_pA"]), rtol=1e-5)
    assert_matches_reference(ours, ref, "activation")


def test_explained_variance_ratio(reference):
    case = reference["evr"]
    assert gk.explained_variance_ratio(case["trials"], case["prediction"]) == pytest.approx(
        case["evr"], rel=1e-6
    )

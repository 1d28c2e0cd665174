"""`gfr_step`: the one GFR recurrence of the cell and the network loop, in both trace layouts."""

import numpy as np
import pytest
from keras import ops

from gfr_keras.errors import InvalidParameterError
from gfr_keras.neurons.activation import ActivationWeights
from gfr_keras.neurons.cell import GFRCell
from gfr_keras.neurons.step import (
    TRACES_FIRST,
    NeuronState,
    NeuronWeights,
    flatten_traces,
    gfr_step,
    steady_traces,
    unflatten_traces,
)

pytestmark = pytest.mark.backend_agnostic

UNITS, N_TRACES, BATCH = 5, 4, 3


def _weights(rng, shared_decay_rates):
    """Random neurons: decay rates in (0, 1], alpha, beta and an activation of degree 2 (float32 tensors)."""
    lam = rng.uniform(0.05, 1.0, size=(N_TRACES,) if shared_decay_rates else (UNITS, N_TRACES))
    tensor = lambda value: ops.convert_to_tensor(np.asarray(value, "float32"))
    activation = ActivationWeights(
        threshold_pa=tensor(rng.uniform(-20, 20, UNITS)),
        squared_coeff=tensor(rng.uniform(0, 1, (UNITS, 3)) ** 2),
        max_current_pa=tensor(rng.uniform(50, 200, UNITS)),
        max_firing_rate_per_ms=tensor(rng.uniform(0.05, 0.3, UNITS)),
    )
    return NeuronWeights(
        retain=tensor(1.0 - lam),
        alpha=tensor(rng.normal(size=(UNITS, N_TRACES))),
        beta=tensor(rng.normal(scale=1e-3, size=(UNITS, N_TRACES))),
        activation=activation,
    )


@pytest.mark.parametrize("shared_decay_rates", [True, False])
def test_both_layouts_take_the_same_step(shared_decay_rates):
    rng = np.random.default_rng(0)
    weights = _weights(rng, shared_decay_rates)
    current = ops.convert_to_tensor(rng.uniform(-100, 100, (BATCH, UNITS)).astype("float32"))
    rates = ops.convert_to_tensor(rng.uniform(0, 0.2, (BATCH, UNITS)).astype("float32"))
    flat = ops.convert_to_tensor(rng.normal(scale=30, size=(BATCH, UNITS * N_TRACES)).astype("float32"))

    units_last = gfr_step(weights, current, NeuronState(rates, unflatten_traces(flat, UNITS, N_TRACES)))
    traces_first = gfr_step(
        weights.in_layout(TRACES_FIRST), current,
        NeuronState(rates, unflatten_traces(flat, UNITS, N_TRACES, TRACES_FIRST)), TRACES_FIRST,
    )
    assert tuple(traces_first.traces.shape) == (BATCH, N_TRACES, UNITS)
    np.testing.assert_allclose(np.asarray(traces_first.rates_per_ms), np.asarray(units_last.rates_per_ms), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(flatten_traces(traces_first.traces, TRACES_FIRST)), np.asarray(flatten_traces(units_last.traces)), rtol=1e-6
    )
    # The flat state is the cell's public `[batch, units * n]` layout, unit by unit.
    np.testing.assert_array_equal(np.asarray(unflatten_traces(flat, UNITS, N_TRACES))[1, 2], np.asarray(flat)[1, 8:12])


def test_the_cell_steps_with_gfr_step():
    """`GFRCell.step` is `gfr_step` on the cell's typed weights, flat state in and out."""
    rng = np.random.default_rng(1)
    cell = GFRCell(UNITS, decay_rates=rng.uniform(0.05, 1.0, N_TRACES).tolist())
    cell.build((None, UNITS))
    cell.beta.assign(rng.normal(scale=1e-3, size=(UNITS, N_TRACES)))
    weights = cell.read_weights()
    assert isinstance(weights, NeuronWeights) and isinstance(weights.activation, ActivationWeights)
    current = rng.uniform(0, 100, (BATCH, UNITS)).astype("float32")
    rates = rng.uniform(0, 1, (BATCH, UNITS)).astype("float32")
    flat = rng.normal(size=(BATCH, UNITS * N_TRACES)).astype("float32")
    output, (new_rates, new_flat) = cell.step(current, [rates, flat], weights)
    expected = gfr_step(weights, current, NeuronState(rates, unflatten_traces(flat, UNITS, N_TRACES)))
    np.testing.assert_array_equal(np.asarray(output), np.asarray(expected.rates_per_ms))
    np.testing.assert_array_equal(np.asarray(new_flat), np.asarray(flatten_traces(expected.traces)))


def test_steady_traces_hold_still_under_their_current():
    rng = np.random.default_rng(2)
    weights = _weights(rng, shared_decay_rates=False)
    current = rng.uniform(-50, 50, UNITS).astype("float32")
    rates = rng.uniform(0, 0.2, UNITS).astype("float32")
    traces = steady_traces(weights, ops.convert_to_tensor(current), ops.convert_to_tensor(rates))
    state = NeuronState(ops.convert_to_tensor(rates[None]), ops.expand_dims(traces, 0))
    after = gfr_step(weights, ops.convert_to_tensor(current[None]), state)
    np.testing.assert_allclose(np.asarray(after.traces)[0], np.asarray(traces), rtol=1e-5, atol=1e-4)


def test_an_unknown_layout_is_named():
    weights = _weights(np.random.default_rng(3), shared_decay_rates=True)
    with pytest.raises(InvalidParameterError, match="layout: expected one of") as error:
        weights.in_layout("units_first")
    assert error.value.parameter == "layout"

"""The GFR recurrence (spec section 1) as one pure function of typed weights and state.

`GFRCell.step` (and through it the `GFR` layer, the fitting and the
network's generic loop) and the L-MNIST network's fast loop all advance
neurons with `gfr_step`. The traces come in one of two layouts:

- `"units_last"`: `[batch, units, n]`, the layout of the cell's public
  state (flattened to `[batch, units * n]`) and of `GFRCell.simulate`.
- `"traces_first"`: `[batch, n, units]`, which the network's loop carries
  because every trace update is then an operation on contiguous
  `[batch, units]` slices (XLA vectorises it better than an innermost axis
  of 4 or 8; see `gfr_keras.network.loop`).
"""

from typing import Any, NamedTuple

from keras import ops

from gfr_keras.errors import InvalidParameterError
from gfr_keras.neurons.activation import ActivationWeights, polynomial_rates
from gfr_keras.units import HZ_PER_PER_MS

UNITS_LAST = "units_last"
TRACES_FIRST = "traces_first"
LAYOUTS = (UNITS_LAST, TRACES_FIRST)


class NeuronWeights(NamedTuple):
    """The tensors one step of a population needs, read once per sequence (`GFRCell.read_weights`).

    In the `"units_last"` layout `retain` (`1 - lam`) is `[n]` (one set shared
    by every unit) or `[units, n]`, `alpha` (per pA) and `beta` (per Hz)
    `[units, n]`; in `"traces_first"` (see `in_layout`) all three are
    `[n, units]`. `activation` holds g's weights, per unit in both layouts.
    """

    retain: Any
    alpha: Any
    beta: Any
    activation: ActivationWeights

    def in_layout(self, layout):
        """These weights for traces in `layout` (read them from `"units_last"`, as `read_weights` gives them)."""
        if _trace_axis(layout) == -1:
            return self
        shape = tuple(self.alpha.shape)
        retain, alpha, beta = (ops.transpose(ops.broadcast_to(w, shape)) for w in (self.retain, self.alpha, self.beta))
        return self._replace(retain=retain, alpha=alpha, beta=beta)


class NeuronState(NamedTuple):
    """A population's state: the last rates `[batch, units]` (1/ms) and the traces (pA), in a layout."""

    rates_per_ms: Any
    traces: Any


def _trace_axis(layout):
    if layout not in LAYOUTS:
        raise InvalidParameterError(f"layout: expected one of {LAYOUTS}, got {layout!r}", parameter="layout")
    return -1 if layout == UNITS_LAST else 1


def gfr_step(weights, current_pa, state, layout=UNITS_LAST):
    """One time step of every neuron: `h_t = (1 - lam) h_{t-1} + alpha I_t + 1000 beta f_{t-1}`, `f_t = g(mean(h_t))`.

    Args:
        weights: `NeuronWeights` in `layout`.
        current_pa: `[batch, units]` (or `[batch, 1]`, one current for every unit), pA.
        state: the previous `NeuronState`, traces in `layout`.
        layout: `"units_last"` or `"traces_first"`.

    Returns:
        The new `NeuronState`, traces in `layout`.
    """
    axis = _trace_axis(layout)
    traces = (
        weights.retain * state.traces
        + weights.alpha * ops.expand_dims(current_pa, axis)
        + HZ_PER_PER_MS * (weights.beta * ops.expand_dims(state.rates_per_ms, axis))
    )
    return NeuronState(polynomial_rates(ops.mean(traces, axis=axis), weights.activation), traces)


def steady_traces(weights, current_pa, rates_per_ms):
    """The traces `[units, n]` that a constant current `[units]` (pA) and rates `[units]` (1/ms) hold still.

    The fixed point of `gfr_step`'s trace update, `h = (alpha I + 1000 beta f) / lam`,
    with `weights` in the `"units_last"` layout; every `lam` must be positive.
    """
    lam = ops.broadcast_to(1.0 - weights.retain, tuple(weights.alpha.shape))
    current_pa = ops.expand_dims(current_pa, -1)
    return (weights.alpha * current_pa + HZ_PER_PER_MS * weights.beta * ops.expand_dims(rates_per_ms, -1)) / lam


def unflatten_traces(flat_traces, units, n_traces, layout=UNITS_LAST):
    """Traces in `layout` from the cell's flat public state `[batch, units * n]`."""
    traces = ops.reshape(flat_traces, (-1, units, n_traces))
    return traces if _trace_axis(layout) == -1 else ops.transpose(traces, (0, 2, 1))


def flatten_traces(traces, layout=UNITS_LAST):
    """The cell's flat public state `[batch, units * n]` from traces in `layout`."""
    if _trace_axis(layout) != -1:
        traces = ops.transpose(traces, (0, 2, 1))
    return ops.reshape(traces, (-1, traces.shape[1] * traces.shape[2]))

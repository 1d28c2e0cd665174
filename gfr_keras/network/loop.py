"""The time loop of `GFRNetworkRNN`: `GFRNetworkCell.step`'s maths (the same `gfr_step`), rearranged for speed.

Profiled on the L-MNIST network under XLA on 2 CPU cores (docs/benchmarks.md,
"L-MNIST training throughput"); outputs and gradients agree with the cell's
own step to float32 rounding (tests/test_network.py). What each change buys
in a training step of the default network (256 units, batch 64):

- Storing every step's output for the backward pass is the largest cost of
  the loop: a TensorFlow/XLA SimpleRNN step over the same 33 steps trains
  1.3x slower with every output kept than with the last only. With `trained_from_step=k` the rows run
  without stored outputs and only the readout steps keep theirs (their rates
  for inspection come from a second, gradient-free run that a compiled
  training step drops when the loss does not read them): -20 %.
- The input projection of every step (`W_in x_t`) is one matmul over the whole
  sequence before the loop, and the per-unit constants are folded once per
  sequence (the input scale into `W_in`; the recurrent scale and the rate
  normalisation `1 / gamma` into `W_rec`; the biases and drive offset into
  one bias), so a step is `I_t = d_t + f_{t-1} W` (one matmul, one add): -1.5 %.
- The traces are carried as `[batch, n, units]` (`gfr_step`'s `"traces_first"`
  layout): every trace update is then an operation on contiguous
  `[batch, units]` slices and `mean(h)` a sum of `n` of them, which XLA
  vectorises better than `[batch, units, n]` with its innermost axis of 4 or 8: -5 %.
"""

import keras
from keras import ops

from gfr_keras._private_api import backend_rnn, jax_traced, tensorflow_xla_context_active
from gfr_keras.network.weights import folded_projections
from gfr_keras.neurons.layer import run_gfr_loop
from gfr_keras.neurons.step import TRACES_FIRST, NeuronState, flatten_traces, gfr_step, unflatten_traces


def _network_step(cell, weights):
    """The step function of `backend_rnn`: drive `d_t` in, rates out, traces `[batch, n, units]`."""
    _, _, recurrent_kernel = folded_projections(weights, cell.recurrent_rates)
    neurons = weights.neurons.in_layout(TRACES_FIRST)

    def step(drive_t, states):
        f_prev, h_prev = states
        f, h = gfr_step(neurons, drive_t + ops.matmul(f_prev, recurrent_kernel), NeuronState(f_prev, h_prev), TRACES_FIRST)
        return f, [f, h]

    return step


def compiled_by_xla(tensor):
    """Whether `tensor` is being traced for XLA, which drops a loop whose outputs nothing reads.

    TensorFlow graphs without `jit_compile` and eager runs keep such a loop:
    there the gradient-free run of the rows would cost a forward pass for
    nothing (measured: 20-35 % slower than the single loop), so
    `run_network_loop` splits only under XLA.
    """
    if keras.backend.backend() == "jax":
        return jax_traced(tensor)  # Keras' JAX trainer jits its steps: a traced value means XLA
    if keras.backend.backend() != "tensorflow":
        return False
    # Should a later TensorFlow move the check, False: the single loop (same outputs, slower) is the safe answer.
    return tensorflow_xla_context_active()


def run_network_loop(rnn, sequences, initial_state, mask, training=False):
    """`keras.layers.RNN.inner_loop` for a `GFRNetworkCell` (with a mask: the generic `run_gfr_loop`).

    In training under XLA with `rnn.trained_from_step = k` (and time running forward),
    steps `< k` run twice: once differentiably without keeping outputs (only
    the state goes on to step `k`), once for their outputs under
    `stop_gradient`. A model that does not read those outputs in its loss (the
    L-MNIST network slices the readout steps before its `Dense`) lets the
    compiler drop the second run, and the backward pass skips `k` stored outputs.
    """
    if mask is not None:
        return run_gfr_loop(rnn, sequences, initial_state, mask)
    cell = rnn.cell
    weights = cell.read_weights()
    input_kernel, bias, _ = folded_projections(weights, cell.recurrent_rates)
    drive = ops.matmul(sequences, input_kernel) + bias  # [batch, time, units]
    step = _network_step(cell, weights)
    f0, h0 = initial_state
    states = [f0, unflatten_traces(h0, cell.units, cell.n_traces, TRACES_FIRST)]
    split = rnn.trained_from_step
    run = lambda drive, states, outputs: backend_rnn(
        step, drive, states, go_backwards=rnn.go_backwards, unroll=rnn.unroll, input_length=drive.shape[1],
        return_all_outputs=outputs,
    )
    if (
        training and split and rnn.return_sequences and not rnn.go_backwards and 0 < split < drive.shape[1]
        and compiled_by_xla(drive)
    ):
        _, inspected, _ = run(drive[:, :split], states, True)
        _, _, states = run(drive[:, :split], states, False)
        last, trained, states = run(drive[:, split:], list(states), True)
        outputs = ops.concatenate([ops.stop_gradient(inspected), trained], axis=1)
    else:
        last, outputs, states = run(drive, states, rnn.return_sequences)
    f, h = states
    return last, outputs, [f, flatten_traces(h, TRACES_FIRST)]

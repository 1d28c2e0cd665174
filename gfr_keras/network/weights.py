"""The weights one step of `GFRNetworkCell` reads, typed, and their folded form for the fast loop."""

from typing import Any, NamedTuple

from keras import ops

from gfr_keras.neurons.step import NeuronWeights


class NetworkWeights(NamedTuple):
    """The tensors of `GFRNetworkCell.read_weights`, read once per sequence.

    `input_kernel` `[inputs, units]` and `recurrent_kernel` `[units, units]`
    (unitless), `input_bias`, `recurrent_bias`, `input_scale`,
    `recurrent_scale` and `drive_offset_pa` `[units]` (the scales and the
    offset in pA), and the population's `NeuronWeights`.
    """

    input_kernel: Any
    input_bias: Any
    recurrent_kernel: Any
    recurrent_bias: Any
    input_scale: Any
    recurrent_scale: Any
    drive_offset_pa: Any
    neurons: NeuronWeights


def folded_projections(weights, recurrent_rates):
    """`(input kernel, bias, recurrent kernel)` with the cell's scales and offset folded in.

    `I_t = x_t K_in + bias + f_{t-1} K_rec` equals `GFRNetworkCell.step`'s
    `o + s_in (W_in x_t + b_in) + s_rec (W_rec r_{t-1} + b_rec)` with
    `r = f` or `f / gamma` (`recurrent_rates` `"per_ms"` or `"normalized"`),
    up to float rounding.
    """
    input_scale, recurrent_scale = weights.input_scale, weights.recurrent_scale
    input_kernel = weights.input_kernel * input_scale
    bias = input_scale * weights.input_bias + recurrent_scale * weights.recurrent_bias + weights.drive_offset_pa
    recurrent_kernel = weights.recurrent_kernel * recurrent_scale
    if recurrent_rates == "normalized":
        gamma = weights.neurons.activation.max_firing_rate_per_ms
        recurrent_kernel = recurrent_kernel / ops.expand_dims(gamma, -1)
    return input_kernel, bias, recurrent_kernel

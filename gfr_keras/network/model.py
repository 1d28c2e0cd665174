"""A recurrent network of GFR neurons for line-by-line MNIST (spec section 8).

Per step, with `x_t` one image row and `r` the neurons' rates::

    u_t = offset + in_scale * (W_in x_t + b_in) + rec_scale * (W_rec r_{t-1} + b_rec)   (pA)
    r_t = GFR population(u_t)                                                        (1/ms)
    logits_t = W_out (readout_factor * r_t) + b_out

Biological neurons get the neuron scaling by default (`neuron_scaling`: each
neuron starts at rest at its own threshold, projections in its own pA, rates
read as fractions of its own gamma); `scaling="reference"` / `protocol="reference"`
keep the published one.

After the 28 rows the network runs 5 zero-input steps: prediction is their mean
softmax; training uses all 5 (`compile_network(readout_loss="all")`, the
default) or, as the reference, the first (`readout_loss="first"`).
"""

import numpy as np
import keras

from gfr_keras.network.cell import READOUT_STEPS, GFRNetworkCell, GFRNetworkRNN
from gfr_keras.network.readout import (
    READOUT_LOSSES,
    AppendZeroSteps,
    ReadoutCrossentropy,
    ReadoutSteps,
    ScaleRates,
    SelectSteps,
)
from gfr_keras.network.default_neurons import default_neurons
from gfr_keras.network.scaling import biological_neurons, sample_records
from gfr_keras.optimizers import ScaledAdam

# Default neurons: spec section 8's (4 traces, g(z) = max(0, tanh(z))) with alpha spread over the
# traces unless scaling_options={"traces": "fast"} (gfr_keras.network.default_neurons).


def _neuron_args(neurons, dataset, units, configuration, seed, replace, row_size, scaling, scaling_options):
    """`GFRNetworkCell` arguments for the neurons, and the readout's rate factors."""
    if neurons == "default":
        # The published scaling has nothing for default neurons; the options start them elsewhere.
        return ({} if scaling == "reference" else default_neurons(units, scaling_options)), 1.0
    if neurons != "biological":
        raise ValueError(f"neurons: expected 'default' or 'biological', got {neurons!r}")
    if dataset is None:
        raise ValueError("neurons='biological' needs a dataset (path, records or load_dataset dict)")
    records = sample_records(dataset, units, configuration, seed, replace=replace)
    cell_args = biological_neurons(records, row_size, scaling, scaling_options)
    return cell_args, cell_args.pop("_readout_factors")


def _reference_initializers(cell_args, neurons, units, row_size):
    """PyTorch's default `U(+-1/sqrt(fan_in))` for every projection and bias (the published code).

    One initializer per weight: a Keras initializer without a seed gives the same
    draws every time it is called, so a shared one would make the biases and the
    readout copies of the recurrent kernel's first values (PyTorch draws each
    independently).
    """
    torch_input = lambda: keras.initializers.RandomUniform(-1 / np.sqrt(row_size), 1 / np.sqrt(row_size))
    torch_rec = lambda: keras.initializers.RandomUniform(-1 / np.sqrt(units), 1 / np.sqrt(units))
    if neurons == "default":
        cell_args["input_initializer"] = torch_input()
    cell_args.update(recurrent_initializer=torch_rec(), bias_initializer=torch_input(), recurrent_bias_initializer=torch_rec())
    return {"kernel_initializer": torch_rec(), "bias_initializer": torch_rec()}


def build_gfr_network(
    units=256,
    neurons="default",
    dataset=None,
    configuration=(20, 20),
    seed=0,
    freeze_neurons=False,
    freeze_activation=False,
    sample_with_replacement=False,
    rows=28,
    row_size=28,
    classes=10,
    scaling="neuron",
    scaling_options=None,
    protocol="project",
):
    """The L-MNIST GFR network as a functional `keras.Model`.

    Input: images `[batch, 28, 28]` in [0, 1]. Outputs: `"logits"` `[batch, 10]`
    (the first zero-input step, the reference's loss), `"readout_logits"`
    `[batch, 5, 10]` (all 5 zero-input steps) and `"probabilities"` `[batch, 10]`
    (mean softmax over the 5, for accuracy).

    Args:
        scaling: biological neurons: `"neuron"` (each neuron's drive near its own
            threshold, in its own units: `neuron_scaling`) or `"reference"` (the
            published scaling). Default neurons (`b = 0`, `sigma = gamma = G = 1`)
            need none.
        scaling_options: `SCALING_OPTIONS` overrides (the ablation); for
            default neurons `DEFAULT_NEURON_OPTIONS` overrides (`traces`,
            `bin_size_ms`).
        protocol: `"project"` or `"reference"` (the published code: its
            scaling, and PyTorch's default initialisation `U(+-1/sqrt(fan_in))`
            of every projection and bias).
    """
    if protocol not in ("project", "reference"):
        raise ValueError(f"protocol: expected 'project' or 'reference', got {protocol!r}")
    if protocol == "reference":
        scaling = "reference"
    cell_args, factors = _neuron_args(neurons, dataset, units, configuration, seed, sample_with_replacement, row_size, scaling, scaling_options)
    params = cell_args.pop("_params", None)
    keras.utils.set_random_seed(seed)
    readout_init = _reference_initializers(cell_args, neurons, units, row_size) if protocol == "reference" else {}
    cell = GFRNetworkCell(
        units, freeze_neurons=freeze_neurons, freeze_activation=freeze_activation, name="gfr_network_cell", **cell_args
    )
    images = keras.Input((rows, row_size), name="images")
    padded = AppendZeroSteps(READOUT_STEPS, name="zero_input_steps")(images)
    rates = GFRNetworkRNN(cell, return_sequences=True, trained_from_step=rows, name="gfr_rnn")(padded)
    rates = SelectSteps(rows, READOUT_STEPS, name="readout_step_rates")(rates)
    if factors != 1.0:
        rates = ScaleRates(factors, name="readout_rates")(rates)
    logits = keras.layers.Dense(classes, name="readout", **readout_init)(rates)
    train_logits, readout_logits, probabilities = ReadoutSteps(0, READOUT_STEPS, name="readout_steps")(logits)
    named = {"logits": train_logits, "readout_logits": readout_logits, "probabilities": probabilities}
    outputs = {name: keras.layers.Identity(name=name)(tensor) for name, tensor in named.items()}
    model = keras.Model(images, outputs, name=f"gfr_network_{neurons}")
    if params is not None:
        cell.neurons.set_params(params)
    return model


def compile_network(
    model,
    learning_rate=1e-3,
    readout_loss="all",
    beta_learning_rate_scale=1e-3,
    jit_compile="auto",
    protocol="project",
    alpha_learning_rate_scale=1.0,
):
    """Adam with the gradient's global norm clipped at 5 (as the reference).

    `protocol="reference"` trains as the published code: first-step loss, plain
    Adam on beta, epsilon 1e-8 placed as PyTorch places it (overrides
    `readout_loss` and both learning-rate scales).

    Args:
        readout_loss: `"first"` (the reference: cross-entropy of the first
            zero-input step) or `"all"` (mean over the 5 zero-input steps that
            prediction averages, so training and prediction look at the same steps).
        beta_learning_rate_scale: factor on the learning rate of the neurons'
            `beta` (see `ScaledAdam` for why); 1 is plain Adam, as the reference.
            Has no effect when the neurons are frozen.
        alpha_learning_rate_scale: factor on the learning rate of `alpha`. A
            fitted neuron's slow traces have `alpha` ~0.01 and `lam` down to
            0.01, so a plain step of 1e-3 moves its gain `mean(alpha / lam)` by
            ~1 % per step and its rest away from the threshold the drive offset
            was set for (docs/benchmarks.md, issue #15).
        jit_compile: as `keras.Model.compile`. Keras' `"auto"` leaves XLA off
            on a CPU-only TensorFlow machine; `True` turns it on there (see
            docs/benchmarks.md for what it changes).
    """
    adam = {}
    if protocol == "reference":
        readout_loss, beta_learning_rate_scale, alpha_learning_rate_scale = "first", 1.0, 1.0
        adam = {"epsilon": 1e-8, "epsilon_placement": "pytorch"}
    elif protocol != "project":
        raise ValueError(f"protocol: expected 'project' or 'reference', got {protocol!r}")
    if readout_loss not in READOUT_LOSSES:
        raise ValueError(f"readout_loss: expected one of {READOUT_LOSSES}, got {readout_loss!r}")
    if "readout_logits" not in model.output:
        readout_loss = "first"  # Keras baselines: one readout
    loss = (
        {"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
        if readout_loss == "first"
        else {"readout_logits": ReadoutCrossentropy()}
    )
    multipliers = {"beta": beta_learning_rate_scale, "alpha": alpha_learning_rate_scale}
    model.compile(
        optimizer=ScaledAdam(learning_rate, multipliers=multipliers, global_clipnorm=5.0, **adam),
        loss=loss,
        metrics={"probabilities": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        jit_compile=jit_compile,
    )
    return model

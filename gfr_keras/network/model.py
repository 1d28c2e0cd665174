"""A recurrent network of GFR neurons for line-by-line MNIST (spec section 8).

Per step, with `x_t` one image row and `r` the neurons' rates::

    u_t = offset + in_scale * (W_in x_t + b_in) + rec_scale * (W_rec r_{t-1} + b_rec)   (pA)
    r_t = GFR population(u_t)                                                        (1/ms)
    logits_t = W_out (readout_factor * r_t) + b_out

Biological neurons get the neuron scaling by default (`neuron_scaling`: each
neuron starts at rest at its own threshold, projections in its own pA, rates
read as fractions of its own gamma); `scaling="reference"` / `training_protocol="reference"`
keep the published one.

After the 28 rows the network runs 5 zero-input steps: prediction is their mean
softmax; training uses all 5 (`compile_network(readout_loss="all")`, the
default) or, as the reference, the first (`readout_loss="first"`).
"""

import numpy as np
import keras

from gfr_keras.errors import InvalidParameterError
from gfr_keras.network.cell import READOUT_STEPS, GFRNetworkCell, GFRNetworkRNN
from gfr_keras.network.config import NetworkConfig
from gfr_keras.network.readout import AppendZeroSteps, ReadoutCrossentropy, ReadoutSteps, ScaleRates, SelectSteps
from gfr_keras.network.default_neurons import default_neurons
from gfr_keras.network.renamed import renamed_keywords
from gfr_keras.network.scaling import biological_neurons, sample_records, set_population
from gfr_keras.optimizers import ScaledAdam

# Default neurons: spec section 8's (4 traces, g(z) = max(0, tanh(z))) with alpha spread over the
# traces unless default_neuron_options={"traces": "fast"} (gfr_keras.network.default_neurons).


def _population(config):
    """`(GFRNetworkCell arguments, readout factors, stacked parameters to assign or None)` for the config's neurons."""
    if config.neuron_kind == "default":
        # The published scaling has nothing for default neurons; the options start them elsewhere.
        cell_args = {} if config.applied_scaling == "reference" else default_neurons(config.units, config.default_neuron_options)
        return cell_args, 1.0, None
    from gfr_keras.dataset.records import SHIPPED_DATASET_PATH

    dataset = SHIPPED_DATASET_PATH if config.dataset is None else config.dataset
    records = sample_records(dataset, config.units, config.configuration, config.seed, replace=config.sample_with_replacement)
    biological = biological_neurons(records, config.row_size, config.applied_scaling, config.neuron_scaling_options)
    return dict(biological.cell_arguments), biological.readout_factors, biological.arrays


def _reference_initializers(cell_args, neuron_kind, units, row_size):
    """PyTorch's default `U(+-1/sqrt(fan_in))` for every projection and bias (the published code).

    One initializer per weight: a Keras initializer without a seed gives the same
    draws every time it is called, so a shared one would make the biases and the
    readout copies of the recurrent kernel's first values (PyTorch draws each
    independently).
    """
    torch_input = lambda: keras.initializers.RandomUniform(-1 / np.sqrt(row_size), 1 / np.sqrt(row_size))
    torch_rec = lambda: keras.initializers.RandomUniform(-1 / np.sqrt(units), 1 / np.sqrt(units))
    if neuron_kind == "default":
        cell_args["input_initializer"] = torch_input()
    cell_args.update(recurrent_initializer=torch_rec(), bias_initializer=torch_input(), recurrent_bias_initializer=torch_rec())
    return {"kernel_initializer": torch_rec(), "bias_initializer": torch_rec()}


def build_gfr_network(config=256, **keywords):
    """The L-MNIST GFR network of a `NetworkConfig` as a functional `keras.Model` (its training fields unused).

    Input: images `[batch, 28, 28]` in [0, 1]. Outputs: `"logits"` `[batch, 10]`
    (the first zero-input step, the reference's loss), `"readout_logits"`
    `[batch, 5, 10]` (all 5 zero-input steps) and `"probabilities"` `[batch, 10]`
    (mean softmax over the 5, for accuracy).

    The keyword form, `build_gfr_network(units, neuron_kind=..., dataset=..., configuration=..., seed=...,
    freeze_neurons=..., freeze_activation=..., sample_with_replacement=..., rows=..., row_size=..., classes=...,
    scaling=..., scaling_options=..., training_protocol=...)`, takes `NetworkConfig` fields (`scaling_options`: the
    neurons' own options, `NEURON_SCALING_OPTIONS` or `DEFAULT_NEURON_OPTIONS` overrides) and needs a
    `dataset` for biological neurons. `training_protocol="reference"`: the published code's scaling, and
    PyTorch's default initialisation `U(+-1/sqrt(fan_in))` of every projection and bias. The deprecated
    keywords `neurons=` and `protocol=` still work (`gfr_keras.network.renamed`).
    """
    keywords = renamed_keywords(keywords)
    if not isinstance(config, NetworkConfig) and keywords.get("neuron_kind") == "biological" and keywords.get("dataset") is None:
        raise InvalidParameterError("dataset: neuron_kind='biological' needs a dataset (path, records or load_dataset dict)",
                                    parameter="dataset")
    config = NetworkConfig.coerce(config, keywords)
    # Seeded before the population too: an initializer made without a seed draws its seed when it is made.
    keras.utils.set_random_seed(config.seed)
    cell_args, factors, arrays = _population(config)
    keras.utils.set_random_seed(config.seed)  # what follows draws as it did before the population was seeded
    readout_init = {}
    if config.training_protocol == "reference":
        readout_init = _reference_initializers(cell_args, config.neuron_kind, config.units, config.row_size)
    cell = GFRNetworkCell(config.units, freeze_neurons=config.freeze_neurons, freeze_activation=config.freeze_activation,
                          name="gfr_network_cell", **cell_args)
    images = keras.Input((config.rows, config.row_size), name="images")
    padded = AppendZeroSteps(READOUT_STEPS, name="zero_input_steps")(images)
    rates = GFRNetworkRNN(cell, return_sequences=True, trained_from_step=config.rows, name="gfr_rnn")(padded)
    rates = SelectSteps(config.rows, READOUT_STEPS, name="readout_step_rates")(rates)
    if factors != 1.0:
        rates = ScaleRates(factors, name="readout_rates")(rates)
    logits = keras.layers.Dense(config.classes, name="readout", **readout_init)(rates)
    train_logits, readout_logits, probabilities = ReadoutSteps(0, READOUT_STEPS, name="readout_steps")(logits)
    named = {"logits": train_logits, "readout_logits": readout_logits, "probabilities": probabilities}
    outputs = {name: keras.layers.Identity(name=name)(tensor) for name, tensor in named.items()}
    model = keras.Model(images, outputs, name=f"gfr_network_{config.neuron_kind}")
    if arrays is not None:
        set_population(cell.neurons, arrays)
    return model


def compile_network(model, config=None, **keywords):
    """Compile `model` to train as a `NetworkConfig` says: Adam with the gradient's global norm clipped at 5 (as the
    reference), the loss and learning-rate factors of `NetworkConfig.training` (its other fields unused).

    The keyword form, `compile_network(model, learning_rate=1e-3, readout_loss="all",
    beta_learning_rate_scale=1e-3, jit_compile="auto", training_protocol="project", alpha_learning_rate_scale=1.0)`,
    takes `NetworkConfig` fields with these defaults (the deprecated `protocol=` too).
    `training_protocol="reference"` trains as the published code: first-step loss, plain Adam on alpha and
    beta, epsilon 1e-8 placed as PyTorch places it (overriding `readout_loss` and both learning-rate scales).

    Fields read:
        readout_loss: `"first"` (the reference: cross-entropy of the first
            zero-input step) or `"all"` (mean over the 5 zero-input steps that
            prediction averages, so training and prediction look at the same steps).
        beta_learning_rate_scale: factor on the learning rate of the neurons'
            `beta` (see `ScaledAdam` for why); 1 is plain Adam, as the reference.
            Has no effect when the neurons are frozen.
        alpha_learning_rate_scale: factor on the learning rate of `alpha` (see
            `BIOLOGICAL_ALPHA_LEARNING_RATE_SCALE` for why biological neurons want less).
        jit_compile: as `keras.Model.compile`. Keras' `"auto"` leaves XLA off
            on a CPU-only TensorFlow machine; `True` turns it on there (see
            docs/benchmarks.md for what it changes).
    """
    keywords = renamed_keywords(keywords)
    if not isinstance(config, NetworkConfig):
        if config is not None:  # the learning rate, given by position
            keywords = {**keywords, "learning_rate": config}
        keywords = {"learning_rate": 1e-3, "jit_compile": "auto", "alpha_learning_rate_scale": 1.0, **keywords}
        config = NetworkConfig.with_scaling_options(None, **keywords)
    elif keywords:
        config = NetworkConfig.coerce(config, keywords)  # raises: one or the other
    training = config.training()
    readout_loss = training["readout_loss"] if "readout_logits" in model.output else "first"  # Keras baselines: one readout
    loss = (
        {"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
        if readout_loss == "first"
        else {"readout_logits": ReadoutCrossentropy()}
    )
    model.compile(
        optimizer=ScaledAdam(config.learning_rate, multipliers=training["multipliers"], global_clipnorm=5.0, **training["adam"]),
        loss=loss,
        metrics={"probabilities": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        jit_compile=config.jit_compile,
    )
    return model

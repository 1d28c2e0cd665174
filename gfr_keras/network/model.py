"""A recurrent network of GFR neurons for line-by-line MNIST (spec section 8).

Per step, with `x_t` one image row and `r` the neurons' rates::

    u_t = in_scale * (W_in x_t + b_in) + rec_scale * (W_rec r_{t-1} + b_rec)
    r_t = GFR population(u_t)
    logits_t = W_out r_t + b_out

After the 28 rows the network runs 5 zero-input steps: prediction is their mean
softmax; training uses all 5 (`compile_network(readout_loss="all")`, the
default) or, as the reference, the first (`readout_loss="first"`).
"""

import numpy as np
import keras
from keras import ops

from gfr_keras.neurons.cell import GFRCell
from gfr_keras.neurons.layer import run_gfr_loop
from gfr_keras.optimizers import ScaledAdam
from gfr_keras.neurons.params import stack_params

#: Spec section 8's default neurons: 4 traces, alpha = [4, 0, 0, 0], g(z) = max(0, tanh(z)).
DEFAULT_DECAY_RATES = [1.0, 0.6321, 0.3935, 0.1813]
READOUT_STEPS = 5


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRNetworkCell(keras.layers.Layer):
    """One step of the recurrent GFR network: input and recurrent projections into a population.

    Args:
        units: hidden neurons.
        neurons: `GFRCell` config (the population); its weights hold the neurons.
        input_scale: per-unit factor on the input projection (biological
            neurons: `max_current / input_size`), a list or a float.
        recurrent_scale: factor on the recurrent projection (biological: `1 / units`).
        input_initializer: initializer of `W_in`.
        freeze_neurons, freeze_activations: train only the projections / keep g fixed.
    """

    def __init__(
        self,
        units,
        neurons=None,
        input_scale=1.0,
        recurrent_scale=1.0,
        input_initializer="glorot_uniform",
        freeze_neurons=False,
        freeze_activations=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        neurons = dict(neurons or {"units": self.units, "decay_rates": DEFAULT_DECAY_RATES})
        neurons.update(
            {
                "freeze_alpha_beta": bool(freeze_neurons),
                "freeze_activation": bool(freeze_neurons or freeze_activations),
            }
        )
        neurons.pop("name", None)
        neurons.pop("dtype", None)
        neurons.pop("trainable", None)
        self.neurons = GFRCell.from_config({**neurons, "name": "neurons"})
        if self.neurons.units != self.units:
            raise ValueError(f"neurons: a population of {self.neurons.units} for units={self.units}")
        self.input_scale_init = input_scale if np.isscalar(input_scale) else [float(x) for x in input_scale]
        self.recurrent_scale = float(recurrent_scale)
        self.input_initializer = keras.initializers.get(input_initializer)
        self.freeze_neurons = bool(freeze_neurons)
        self.freeze_activations = bool(freeze_activations)
        self.state_size = self.neurons.state_size
        self.output_size = self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.input_kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.input_initializer, name="input_kernel")
        self.input_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="input_bias")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="orthogonal", name="recurrent_kernel")
        self.recurrent_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="recurrent_bias")
        self.input_scale = self.add_weight(
            shape=(self.units,), initializer=keras.initializers.Constant(1.0), trainable=False, name="input_scale"
        )
        self.input_scale.assign(np.broadcast_to(np.asarray(self.input_scale_init, "float32"), (self.units,)))
        if not self.neurons.built:
            self.neurons.build((None, self.units))

    @property
    def n_traces(self):
        return self.neurons.n_traces

    def read_weights(self):
        """The tensors one step needs, read once so a loop over time can reuse them."""
        return {
            "input_kernel": ops.convert_to_tensor(self.input_kernel),
            "input_bias": ops.convert_to_tensor(self.input_bias),
            "recurrent_kernel": ops.convert_to_tensor(self.recurrent_kernel),
            "recurrent_bias": ops.convert_to_tensor(self.recurrent_bias),
            "input_scale": ops.convert_to_tensor(self.input_scale),
            "neurons": self.neurons.read_weights(),
        }

    def step(self, inputs, states, weights):
        """One time step with weights from `read_weights` (the maths of `call`)."""
        rates = states[0]
        drive = weights["input_scale"] * (ops.matmul(inputs, weights["input_kernel"]) + weights["input_bias"])
        drive = drive + self.recurrent_scale * (
            ops.matmul(rates, weights["recurrent_kernel"]) + weights["recurrent_bias"]
        )
        return self.neurons.step(drive, states, weights["neurons"])

    def call(self, inputs, states, training=False):
        return self.step(inputs, states, self.read_weights())


    def get_initial_state(self, batch_size=None):
        return self.neurons.get_initial_state(batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "neurons": self.neurons.get_config(),
                "input_scale": self.input_scale_init,
                "recurrent_scale": self.recurrent_scale,
                "input_initializer": keras.initializers.serialize(self.input_initializer),
                "freeze_neurons": self.freeze_neurons,
                "freeze_activations": self.freeze_activations,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRNetworkRNN(keras.layers.RNN):
    """`keras.layers.RNN` over a `GFRNetworkCell`, running the neurons like the `GFR` layer does.

    Same results as `keras.layers.RNN(cell)`; faster because the neurons'
    weights are read once per sequence and their traces carried 3-D (see
    `gfr_keras.neurons.layer.run_gfr_loop`).
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        return run_gfr_loop(self, sequences, initial_state, mask)


@keras.saving.register_keras_serializable(package="gfr_keras")
class AppendZeroSteps(keras.layers.Layer):
    """`[batch, time, features]` -> `[batch, time + steps, features]` with zero rows appended."""

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, inputs):
        zeros = ops.zeros_like(inputs[:, : self.steps])
        return ops.concatenate([inputs, zeros], axis=1)

    def compute_output_shape(self, input_shape):
        time = None if input_shape[1] is None else input_shape[1] + self.steps
        return (input_shape[0], time, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="gfr_keras")
class ReadoutSteps(keras.layers.Layer):
    """Logits `[batch, time, classes]` -> the readout steps `first .. first + count - 1`.

    Returns `(logits at first [batch, classes], their logits [batch, count, classes],
    mean softmax over them [batch, classes])`.
    """

    def __init__(self, first, count, **kwargs):
        super().__init__(**kwargs)
        self.first, self.count = int(first), int(count)

    def call(self, logits):
        readout = logits[:, self.first : self.first + self.count]
        return logits[:, self.first], readout, ops.mean(ops.softmax(readout, axis=-1), axis=1)

    def compute_output_shape(self, input_shape):
        batch, classes = input_shape[0], input_shape[2]
        return (batch, classes), (batch, self.count, classes), (batch, classes)

    def get_config(self):
        return {**super().get_config(), "first": self.first, "count": self.count}


def biological_neurons(records, input_size):
    """`GFRNetworkCell` arguments for neurons taken from dataset records (spec section 8)."""
    params = [record["params"] for record in records]
    cell = GFRCell.from_params(params)
    arrays = stack_params(params)
    return {
        "neurons": cell.get_config(),
        "input_scale": (arrays["max_current_pa"] / input_size).tolist(),
        "recurrent_scale": 1.0 / len(params),
        "input_initializer": keras.initializers.RandomNormal(mean=1.5, stddev=3.0),
        "_params": params,
    }


def sample_records(dataset, n_nodes, configuration=(20, 20), seed=0, replace=False):
    """`n_nodes` cells of one configuration, drawn with a seed.

    Distinct cells (as the reference) unless `replace=True`, which lets a network
    be larger than the dataset: each cell then appears about `n_nodes / cells`
    times, every copy with its own input and recurrent weights. Too few cells
    without `replace` is an error naming the numbers.
    """
    from gfr_keras.dataset.frames import load_dataset

    frames = dataset if isinstance(dataset, dict) else load_dataset(dataset)
    frame = frames[tuple(configuration)]
    if len(frame) == 0 or (len(frame) < n_nodes and not replace):
        raise ValueError(
            f"dataset: {len(frame)} cells at configuration {tuple(configuration)}, "
            f"fewer than the {n_nodes} neurons asked for (--n-nodes); "
            "sample with replacement (--sample-with-replacement) or use a larger dataset"
        )
    rows = np.random.default_rng(seed).choice(len(frame), size=n_nodes, replace=replace)
    return [frame.iloc[int(i)].to_dict() for i in sorted(rows)]


def build_gfr_network(
    n_nodes=256,
    neurons="default",
    dataset=None,
    configuration=(20, 20),
    seed=0,
    freeze_neurons=False,
    freeze_activations=False,
    sample_with_replacement=False,
    rows=28,
    row_size=28,
    classes=10,
):
    """The L-MNIST GFR network as a functional `keras.Model`.

    Input: images `[batch, 28, 28]` in [0, 1]. Outputs: `"logits"` `[batch, 10]`
    (the first zero-input step, the reference's loss), `"readout_logits"`
    `[batch, 5, 10]` (all 5 zero-input steps) and `"probabilities"` `[batch, 10]`
    (mean softmax over the 5, for accuracy).
    """
    if neurons == "default":
        cell_args = {}
    elif neurons == "biological":
        if dataset is None:
            raise ValueError("neurons='biological' needs a dataset (path, records or load_dataset dict)")
        records = sample_records(dataset, n_nodes, configuration, seed, replace=sample_with_replacement)
        cell_args = biological_neurons(records, row_size)
    else:
        raise ValueError(f"neurons: expected 'default' or 'biological', got {neurons!r}")
    params = cell_args.pop("_params", None)
    keras.utils.set_random_seed(seed)
    cell = GFRNetworkCell(
        n_nodes, freeze_neurons=freeze_neurons, freeze_activations=freeze_activations, name="gfr_network_cell", **cell_args
    )
    images = keras.Input((rows, row_size), name="images")
    padded = AppendZeroSteps(READOUT_STEPS, name="zero_input_steps")(images)
    rates = GFRNetworkRNN(cell, return_sequences=True, name="gfr_rnn")(padded)
    logits = keras.layers.Dense(classes, name="readout")(rates)
    train_logits, readout_logits, probabilities = ReadoutSteps(rows, READOUT_STEPS, name="readout_steps")(logits)
    outputs = {
        "logits": keras.layers.Identity(name="logits")(train_logits),
        "readout_logits": keras.layers.Identity(name="readout_logits")(readout_logits),
        "probabilities": keras.layers.Identity(name="probabilities")(probabilities),
    }
    model = keras.Model(images, outputs, name=f"gfr_network_{neurons}")
    if params is not None:
        cell.neurons.set_params(params)
    return model


@keras.saving.register_keras_serializable(package="gfr_keras")
class ReadoutCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy averaged over readout steps: labels `[batch]`, logits `[batch, steps, classes]`."""

    def __init__(self, name="readout_crossentropy", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        steps = ops.shape(y_pred)[1]
        labels = ops.repeat(ops.expand_dims(ops.cast(ops.reshape(y_true, (-1,)), "int32"), 1), steps, axis=1)
        per_step = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        return ops.mean(per_step, axis=1)


READOUT_LOSSES = ("first", "all")


def network_targets(labels, model=None):
    """The target dict `model.fit` wants: the labels for every output (the compiled loss picks its own).

    Outputs of a network from `build_gfr_network` unless `model` is given (e.g. a
    Keras baseline with only `logits` and `probabilities`).
    """
    names = model.output if model is not None else ("logits", "readout_logits", "probabilities")
    return {name: labels for name in names}


def compile_network(model, learning_rate=1e-3, readout_loss="all", beta_learning_rate_scale=1e-3, jit_compile="auto"):
    """Adam with the gradient's global norm clipped at 5 (as the reference).

    Args:
        readout_loss: `"first"` (the reference: cross-entropy of the first
            zero-input step) or `"all"` (mean over the 5 zero-input steps that
            prediction averages, so training and prediction look at the same steps).
        beta_learning_rate_scale: factor on the learning rate of the neurons'
            `beta` (see `ScaledAdam` for why); 1 is plain Adam, as the reference.
            Has no effect when the neurons are frozen.
        jit_compile: as `keras.Model.compile`. Keras' `"auto"` leaves XLA off
            on a CPU-only TensorFlow machine; `True` turns it on there (see
            docs/benchmarks.md for what it changes).
    """
    if readout_loss not in READOUT_LOSSES:
        raise ValueError(f"readout_loss: expected one of {READOUT_LOSSES}, got {readout_loss!r}")
    if "readout_logits" not in model.output:
        readout_loss = "first"  # Keras baselines: one readout
    loss = (
        {"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
        if readout_loss == "first"
        else {"readout_logits": ReadoutCrossentropy()}
    )
    model.compile(
        optimizer=ScaledAdam(learning_rate, multipliers={"beta": beta_learning_rate_scale}, global_clipnorm=5.0),
        loss=loss,
        metrics={"probabilities": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        jit_compile=jit_compile,
    )
    return model

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
from keras import ops

from gfr_keras.neurons.cell import GFRCell
from gfr_keras.neurons.layer import run_gfr_loop
from gfr_keras.optimizers import ScaledAdam
from gfr_keras.neurons.params import stack_params
from gfr_keras.units import HZ_PER_PER_MS

#: Spec section 8's default neurons: 4 traces, alpha = [4, 0, 0, 0], g(z) = max(0, tanh(z)).
DEFAULT_DECAY_RATES = [1.0, 0.6321, 0.3935, 0.1813]
READOUT_STEPS = 5
RECURRENT_RATES = ("per_ms", "normalized")
READOUT_RATES = ("per_ms", "hz", "normalized")


def _float_or_list(value):
    return float(value) if np.isscalar(value) else [float(x) for x in value]


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRNetworkCell(keras.layers.Layer):
    """One step of the recurrent GFR network: input and recurrent projections into a population.

    Args:
        units: hidden neurons.
        neurons: `GFRCell` config (the population); its weights hold the neurons.
        input_scale: per-unit factor on the input projection (biological
            neurons: `max_current / input_size`), a list or a float.
        recurrent_scale: factor on the recurrent projection (reference
            biological scaling: `1 / units`), a list (one per unit) or a float.
        input_initializer: initializer of `W_in`.
        bias_initializer, recurrent_bias_initializer: initializers of `b_in` and
            `b_rec` (the latter defaults to the former).
        recurrent_initializer: initializer of `W_rec`.
        drive_offset: a fixed current (pA) added to every neuron's drive, a
            list or a float (the neuron scaling centres the drive on the
            neuron's threshold with it; see `neuron_scaling`).
        recurrent_rates: what `W_rec` reads: `"per_ms"` (the rates in 1/ms, as
            the reference) or `"normalized"` (`f / gamma` in [0, 1], each
            neuron's rate as a fraction of its own maximum).
        rest_state: start every sequence at rest under the drive offset: the
            traces at their steady state `h = (alpha o + 1000 beta f0) / lam`,
            `f0 = g(b)`, instead of zero (computed from the current weights, so
            it follows trained neurons).
        freeze_neurons, freeze_activations: train only the projections / keep g fixed.

    Per step, in pA (`s_in`, `s_rec` the scales, `o` the offset)::

        I_t = o + s_in * (W_in x_t + b_in) + s_rec * (W_rec r_{t-1} + b_rec)

    With `s_in = s_rec = ` a current in pA, `W` and `b` are unitless: Adam moves
    the bias by about the learning rate, i.e. the current by `lr * s` pA per
    step, a learning rate in each neuron's own units (what `ScaledAdam`'s
    multipliers do for `beta`).
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
        drive_offset=0.0,
        recurrent_rates="per_ms",
        bias_initializer="zeros",
        recurrent_initializer="orthogonal",
        recurrent_bias_initializer=None,
        rest_state=False,
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
        self.recurrent_scale = _float_or_list(recurrent_scale)
        self.drive_offset = _float_or_list(drive_offset)
        if recurrent_rates not in RECURRENT_RATES:
            raise ValueError(f"recurrent_rates: expected one of {RECURRENT_RATES}, got {recurrent_rates!r}")
        self.recurrent_rates = recurrent_rates
        self.rest_state = bool(rest_state)
        self.input_initializer = keras.initializers.get(input_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.recurrent_bias_initializer = keras.initializers.get(recurrent_bias_initializer or bias_initializer)
        self.freeze_neurons = bool(freeze_neurons)
        self.freeze_activations = bool(freeze_activations)
        self.state_size = self.neurons.state_size
        self.output_size = self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.input_kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.input_initializer, name="input_kernel")
        self.input_bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="input_bias")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        self.recurrent_bias = self.add_weight(
            shape=(self.units,), initializer=self.recurrent_bias_initializer, name="recurrent_bias"
        )
        self.input_scale = self.add_weight(
            shape=(self.units,), initializer=keras.initializers.Constant(1.0), trainable=False, name="input_scale"
        )
        self.input_scale.assign(np.broadcast_to(np.asarray(self.input_scale_init, "float32"), (self.units,)))
        # Fixed per-unit constants (weights so they travel with the model; not trained).
        self.recurrent_scale_weight = self._constant(self.recurrent_scale, "recurrent_scale")
        self.drive_offset_weight = self._constant(self.drive_offset, "drive_offset_pa")
        if not self.neurons.built:
            self.neurons.build((None, self.units))

    def _constant(self, value, name):
        weight = self.add_weight(shape=(self.units,), initializer="zeros", trainable=False, name=name)
        weight.assign(np.broadcast_to(np.asarray(value, "float32"), (self.units,)))
        return weight

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
            "recurrent_scale": ops.convert_to_tensor(self.recurrent_scale_weight),
            "drive_offset": ops.convert_to_tensor(self.drive_offset_weight),
            "neurons": self.neurons.read_weights(),
        }

    def step(self, inputs, states, weights):
        """One time step with weights from `read_weights` (the maths of `call`)."""
        rates = states[0]
        if self.recurrent_rates == "normalized":
            rates = rates / weights["neurons"]["activation"]["max_firing_rate_per_ms"]
        drive = weights["input_scale"] * (ops.matmul(inputs, weights["input_kernel"]) + weights["input_bias"])
        drive = drive + weights["recurrent_scale"] * (
            ops.matmul(rates, weights["recurrent_kernel"]) + weights["recurrent_bias"]
        )
        drive = drive + weights["drive_offset"]
        return self.neurons.step(drive, states, weights["neurons"])

    def call(self, inputs, states, training=False):
        return self.step(inputs, states, self.read_weights())


    def get_initial_state(self, batch_size=None):
        if not self.rest_state:
            return self.neurons.get_initial_state(batch_size)
        neurons = self.neurons.read_weights()
        activation = neurons["activation"]
        f0 = self.neurons.activation.apply(activation["threshold_pa"], activation)  # g(b), [units]
        lam = ops.broadcast_to(1.0 - neurons["retain"], (self.units, self.n_traces))
        offset = ops.expand_dims(ops.convert_to_tensor(self.drive_offset_weight), -1)
        h0 = (neurons["alpha"] * offset + HZ_PER_PER_MS * neurons["beta"] * ops.expand_dims(f0, -1)) / lam
        f0 = ops.broadcast_to(ops.expand_dims(f0, 0), (batch_size, self.units))
        h0 = ops.broadcast_to(ops.reshape(h0, (1, self.units * self.n_traces)), (batch_size, self.units * self.n_traces))
        return [ops.cast(f0, self.compute_dtype), ops.cast(h0, self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "neurons": self.neurons.get_config(),
                "input_scale": self.input_scale_init,
                "recurrent_scale": self.recurrent_scale,
                "input_initializer": keras.initializers.serialize(self.input_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "recurrent_bias_initializer": keras.initializers.serialize(self.recurrent_bias_initializer),
                "drive_offset": self.drive_offset,
                "recurrent_rates": self.recurrent_rates,
                "rest_state": self.rest_state,
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


@keras.saving.register_keras_serializable(package="gfr_keras")
class ScaleRates(keras.layers.Layer):
    """Rates `[..., units]` (1/ms) times a fixed factor per unit: what the readout reads.

    `factors` is a float or one per unit: 1 (1/ms), 1000 (Hz) or `1 / gamma`
    (each neuron's rate as a fraction of its maximum).
    """

    def __init__(self, factors=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factors = _float_or_list(factors)

    def call(self, rates):
        return rates * ops.cast(ops.convert_to_tensor(self.factors), rates.dtype)

    def get_config(self):
        return {**super().get_config(), "factors": self.factors}


#: The biological scaling's options (`neuron_scaling`), all on by default; the
#: ablation in docs/benchmarks.md switches each off in turn.
SCALING_OPTIONS = {
    # The drive starts at the neuron's threshold b (pA): a fixed offset o with
    # mean(h) = G o + F g(b) = b at steady state (G = mean(alpha / lam), F the
    # rate feedback 1000 mean(beta / lam)).
    "centre_drive": True,
    # Sequences start at that steady state (GFRNetworkCell's rest_state) instead of h = 0.
    "rest_state": True,
    # Input and recurrent projections in pA per unit of W: the width of the
    # neuron's unclipped range, sigma / sum_k>=1 c_k^2 ("slope"), or sigma itself
    # ("sigma"); "reference" keeps the published max_current / input_size and 1 / units.
    "drive_width": "slope",
    # W_rec reads f / gamma in [0, 1] ("normalized") or f in 1/ms ("per_ms").
    "recurrent_rates": "normalized",
    # The readout reads f / gamma ("normalized"), f in Hz ("hz") or f in 1/ms ("per_ms").
    "readout_rates": "normalized",
}


def drive_gain(alpha, decay_rates, steps=None):
    """`G`: the mean trace after `steps` steps (`None`: at steady state) of a unit constant current, per neuron.

    `mean(h_t) = sum_s<t mean(alpha (1 - lam)^s) I`: a constant drive `I` reaches
    the activation as `G * I` (before rate feedback). The spec's default neurons
    have `G = 1`; fitted neurons 1 to 3.5 at steady state, less after 33 steps.
    """
    alpha, lam = np.asarray(alpha, float), np.asarray(decay_rates, float)
    lam = np.broadcast_to(lam, alpha.shape)
    safe = np.where(lam > 0, lam, 1)
    if steps is None:
        filled = np.where(lam > 0, 1 / safe, np.inf)
    else:
        filled = np.where(lam > 0, (1 - (1 - lam) ** steps) / safe, steps)
    return np.mean(alpha * filled, axis=-1)


def neuron_scaling(arrays, input_size, options=None):
    """`GFRNetworkCell` arguments that put each neuron's drive in its own working range.

    Study (docs/benchmarks.md, "biological network probe"): with the reference
    scaling a fitted neuron's drive at zero input is `max_current / 28 * b_in`
    with `b_in ~ 0`, far below its threshold `b` (median 180 pA), so the
    readout steps see silent neurons; and the unclipped part of
    `g = gamma tanh(c_0^2 + c_1^2 (m - b) / sigma)` is only `sigma / c_1^2` wide
    (median about 12 pA at (20,20): `c_1^2` is 2 to 36), so a drive spread of
    `max_current` saturates or silences. The rates are in 1/ms (gamma ~0.03), so
    a readout or recurrent weight of order 1 sees signals of order 0.01.

    Args:
        arrays: `stack_params` of the neurons.
        input_size: pixels per row (28; only the reference width uses it).
        options: `SCALING_OPTIONS` overrides.

    Returns:
        `(cell arguments, readout factors)`.
    """
    options = {**SCALING_OPTIONS, **(options or {})}
    unknown = set(options) - set(SCALING_OPTIONS)
    if unknown:
        raise ValueError(f"scaling options: unknown {sorted(unknown)}; expected {sorted(SCALING_OPTIONS)}")
    units = len(arrays["threshold_pa"])
    alpha, lam, beta = (np.asarray(arrays[k], float) for k in ("alpha", "decay_rates", "beta"))
    gain = np.maximum(drive_gain(alpha, lam), 1e-3)  # steady state
    feedback = HZ_PER_PER_MS * drive_gain(beta, lam)
    pulse = np.maximum(np.mean(alpha, axis=-1), 1e-3)  # one row's current reaches mean(h) as mean(alpha) I
    sigma = np.asarray(arrays["max_current_pa"], float)
    gamma = np.asarray(arrays["max_firing_rate_per_ms"], float)
    coeff = np.square(np.asarray(arrays["poly_coeff"], float))
    slope = coeff[:, 1:].sum(axis=1) if coeff.shape[1] > 1 else np.ones(units)
    rate_at_threshold = gamma * np.tanh(coeff[:, 0])
    width = options["drive_width"]
    if width == "slope":
        scale = sigma / np.maximum(slope, 1.0) / pulse
    elif width == "sigma":
        scale = sigma / pulse
    elif width == "reference":
        scale = None
    else:
        raise ValueError(f"drive_width: expected 'slope', 'sigma' or 'reference', got {width!r}")
    readout = options["readout_rates"]
    if readout not in READOUT_RATES:
        raise ValueError(f"readout_rates: expected one of {READOUT_RATES}, got {readout!r}")
    cell_args = {
        "input_scale": (sigma / input_size).tolist() if scale is None else scale.tolist(),
        "recurrent_scale": 1.0 / units if scale is None else scale.tolist(),
        "drive_offset": (
            ((np.asarray(arrays["threshold_pa"], float) - feedback * rate_at_threshold) / gain).tolist()
            if options["centre_drive"]
            else 0.0
        ),
        "recurrent_rates": options["recurrent_rates"],
        "rest_state": bool(options["rest_state"]),
    }
    factors = {"per_ms": 1.0, "hz": HZ_PER_PER_MS, "normalized": (1.0 / gamma).tolist()}[readout]
    return cell_args, factors


def biological_neurons(records, input_size, scaling="reference", options=None):
    """`GFRNetworkCell` arguments for neurons taken from dataset records (spec section 8).

    `scaling="reference"`: the published scaling (`max_current / input_size` on
    the input, `1 / units` on the recurrence, `W_in ~ N(1.5, 3)`, rates in 1/ms).
    `scaling="neuron"`: `neuron_scaling` (each neuron's drive near its own
    threshold, in its own units), with `options` as `SCALING_OPTIONS`.
    """
    params = [record["params"] for record in records]
    cell = GFRCell.from_params(params)
    arrays = stack_params(params)
    if scaling == "reference":
        cell_args = {
            "input_scale": (arrays["max_current_pa"] / input_size).tolist(),
            "recurrent_scale": 1.0 / len(params),
            "input_initializer": keras.initializers.RandomNormal(mean=1.5, stddev=3.0),
        }
        factors = 1.0
    elif scaling == "neuron":
        cell_args, factors = neuron_scaling(arrays, input_size, options)
    else:
        raise ValueError(f"scaling: expected 'neuron' or 'reference', got {scaling!r}")
    return {"neurons": cell.get_config(), **cell_args, "_params": params, "_readout_factors": factors}


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
        scaling_options: `SCALING_OPTIONS` overrides (the ablation).
        protocol: `"project"` or `"reference"` (the published code: its
            scaling, and PyTorch's default initialisation `U(+-1/sqrt(fan_in))`
            of every projection and bias).
    """
    if protocol not in ("project", "reference"):
        raise ValueError(f"protocol: expected 'project' or 'reference', got {protocol!r}")
    if protocol == "reference":
        scaling = "reference"
    factors = 1.0
    if neurons == "default":
        cell_args = {}
    elif neurons == "biological":
        if dataset is None:
            raise ValueError("neurons='biological' needs a dataset (path, records or load_dataset dict)")
        records = sample_records(dataset, n_nodes, configuration, seed, replace=sample_with_replacement)
        cell_args = biological_neurons(records, row_size, scaling, scaling_options)
        factors = cell_args.pop("_readout_factors")
    else:
        raise ValueError(f"neurons: expected 'default' or 'biological', got {neurons!r}")
    params = cell_args.pop("_params", None)
    keras.utils.set_random_seed(seed)
    readout_init = {}
    if protocol == "reference":
        torch_input = keras.initializers.RandomUniform(-1 / np.sqrt(row_size), 1 / np.sqrt(row_size))
        torch_rec = keras.initializers.RandomUniform(-1 / np.sqrt(n_nodes), 1 / np.sqrt(n_nodes))
        if neurons == "default":
            cell_args["input_initializer"] = torch_input
        cell_args.update(recurrent_initializer=torch_rec, bias_initializer=torch_input, recurrent_bias_initializer=torch_rec)
        readout_init = {"kernel_initializer": torch_rec, "bias_initializer": torch_rec}
    cell = GFRNetworkCell(
        n_nodes, freeze_neurons=freeze_neurons, freeze_activations=freeze_activations, name="gfr_network_cell", **cell_args
    )
    images = keras.Input((rows, row_size), name="images")
    padded = AppendZeroSteps(READOUT_STEPS, name="zero_input_steps")(images)
    rates = GFRNetworkRNN(cell, return_sequences=True, name="gfr_rnn")(padded)
    if factors != 1.0:
        rates = ScaleRates(factors, name="readout_rates")(rates)
    logits = keras.layers.Dense(classes, name="readout", **readout_init)(rates)
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


def compile_network(
    model, learning_rate=1e-3, readout_loss="all", beta_learning_rate_scale=1e-3, jit_compile="auto", protocol="project"
):
    """Adam with the gradient's global norm clipped at 5 (as the reference).

    `protocol="reference"` trains as the published code: first-step loss, plain
    Adam on beta, epsilon 1e-8 placed as PyTorch places it (overrides
    `readout_loss` and `beta_learning_rate_scale`).

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
    adam = {}
    if protocol == "reference":
        readout_loss, beta_learning_rate_scale = "first", 1.0
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
    model.compile(
        optimizer=ScaledAdam(learning_rate, multipliers={"beta": beta_learning_rate_scale}, global_clipnorm=5.0, **adam),
        loss=loss,
        metrics={"probabilities": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        jit_compile=jit_compile,
    )
    return model

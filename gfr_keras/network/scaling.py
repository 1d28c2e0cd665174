"""Biological neurons in a network: sampling dataset cells and giving each neuron what it needs in its own units."""

import dataclasses

import numpy as np
import keras

from gfr_keras.errors import InvalidParameterError
from gfr_keras.neurons.params import stack_params
from gfr_keras.units import HZ_PER_PER_MS
from gfr_keras.network.cell import READOUT_RATES, RECURRENT_RATES

#: How `neuron_scaling` puts each biological neuron's drive in its working range (overridden by a network's
#: `neuron_scaling_options`).
NEURON_SCALING_OPTIONS = {
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
    # The readout reads f in Hz ("hz"), f / gamma ("normalized") or f in 1/ms ("per_ms"). Hz: on the
    # refitted 136-cell dataset 0.954 / 0.961 / 0.9765 test accuracy at 4 / 10 / 30 epochs against
    # 0.859 / 0.9415 / 0.9595 normalised (docs/benchmarks.md, issue #15 ablation).
    "readout_rates": "hz",
}
#: The name `NEURON_SCALING_OPTIONS` had before the default neurons' options got theirs.
SCALING_OPTIONS = NEURON_SCALING_OPTIONS
_NEURON_SCALING_CHOICES = {"drive_width": ("slope", "sigma", "reference"), "recurrent_rates": RECURRENT_RATES,
                           "readout_rates": READOUT_RATES}


def neuron_scaling_options(overrides=None):
    """`NEURON_SCALING_OPTIONS` with `overrides` over them, checked.

    Raises:
        InvalidParameterError (`parameter="neuron_scaling_options"`): an unknown option or a value not among its choices.
    """
    options = {**NEURON_SCALING_OPTIONS, **(overrides or {})}
    unknown = set(options) - set(NEURON_SCALING_OPTIONS)
    problem = f"scaling options: unknown {sorted(unknown)}; expected {sorted(NEURON_SCALING_OPTIONS)}" if unknown else None
    for key, choices in _NEURON_SCALING_CHOICES.items():
        if problem is None and options[key] not in choices:
            problem = f"{key}: expected one of {list(choices)}, got {options[key]!r}"
    if problem:
        raise InvalidParameterError(f"neuron_scaling_options: {problem}", parameter="neuron_scaling_options")
    return options


@dataclasses.dataclass(frozen=True)
class BiologicalNeurons:
    """Fitted neurons ready for a network: what `biological_neurons` returns.

    Attributes:
        cell_arguments: `GFRNetworkCell` keyword arguments (`population`: the population's `GFRCell` config,
            the projections' scales, the drive offset, ...).
        arrays: the neurons' parameters, checked and stacked (`stack_params`), to assign once the network is built.
        readout_factors: what the readout multiplies the rates by (1, 1000 for Hz, or one `1 / gamma` per neuron).
    """

    cell_arguments: dict
    arrays: dict
    readout_factors: object


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
        options: `NEURON_SCALING_OPTIONS` overrides.

    Returns:
        `(cell arguments, readout factors)`.
    """
    options = neuron_scaling_options(options)
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
    else:  # "reference"
        scale = None
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
    factors = {"per_ms": 1.0, "hz": HZ_PER_PER_MS, "normalized": (1.0 / gamma).tolist()}[options["readout_rates"]]
    return cell_args, factors


def biological_neurons(records, input_size, scaling="reference", options=None):
    """Neurons taken from dataset records, scaled for a network (spec section 8): a `BiologicalNeurons`.

    `scaling="reference"`: the published scaling (`max_current / input_size` on
    the input, `1 / units` on the recurrence, `W_in ~ N(1.5, 3)`, rates in 1/ms).
    `scaling="neuron"`: `neuron_scaling` (each neuron's drive near its own
    threshold, in its own units), with `options` as `NEURON_SCALING_OPTIONS` overrides.
    The records' parameters are checked once, here (`stack_params`).
    """
    arrays = stack_params([record["params"] for record in records])
    if scaling == "reference":
        cell_args = {
            "input_scale": (arrays["max_current_pa"] / input_size).tolist(),
            "recurrent_scale": 1.0 / len(arrays["alpha"]),
            "input_initializer": keras.initializers.RandomNormal(mean=1.5, stddev=3.0),
        }
        factors = 1.0
    elif scaling == "neuron":
        cell_args, factors = neuron_scaling(arrays, input_size, options)
    else:
        raise InvalidParameterError(f"scaling: expected 'neuron' or 'reference', got {scaling!r}", parameter="scaling")
    return BiologicalNeurons({"population": population_config(arrays), **cell_args}, arrays, factors)


def population_config(arrays):
    """The `GFRCell` config of a population holding the neurons of `arrays` (`stack_params`): its shape, not its values.

    Per-unit decay rates only where the neurons' differ, as `GFRCell.params_config`.
    """
    lam = arrays["decay_rates"]
    return {
        "units": len(lam),
        "bin_size_ms": arrays["bin_size_ms"],
        "decay_rates": (lam[0] if bool(np.all(lam == lam[0])) else lam).tolist(),
        "activation_bin_size_ms": arrays["activation_bin_size_ms"],
        "degree": int(arrays["degree"].max()),
    }


def set_population(population, arrays):
    """Give a built `GFRCell` the neurons of `arrays` (`stack_params`, already checked; its decay rates are the
    population's own, from `population_config`)."""
    population.alpha.assign(arrays["alpha"])
    population.beta.assign(arrays["beta"])
    population.activation.set_arrays(arrays)


def sample_records(dataset, units, configuration=(20, 20), seed=0, replace=False):
    """`units` cells of one configuration, drawn with a seed.

    Distinct cells (as the reference) unless `replace=True`, which lets a network
    be larger than the dataset: each cell then appears about `units / cells`
    times, every copy with its own input and recurrent weights. Too few cells
    without `replace` is an error naming the numbers.
    """
    from gfr_keras.dataset.frames import load_dataset

    frames = dataset if isinstance(dataset, dict) else load_dataset(dataset)
    frame = frames[tuple(configuration)]
    if len(frame) == 0 or (len(frame) < units and not replace):
        raise InvalidParameterError(
            f"dataset: {len(frame)} cells at configuration {tuple(configuration)}, "
            f"fewer than the {units} neurons asked for (units); "
            "sample with replacement (replace=True) or use a larger dataset",
            parameter="units",
        )
    rows = np.random.default_rng(seed).choice(len(frame), size=units, replace=replace)
    return [frame.iloc[int(i)].to_dict() for i in sorted(rows)]



"""The L-MNIST network's options as a validated, immutable `NetworkConfig`: their defaults and their policy.

`build_model`, `build_gfr_network` and `compile_network` build from it; `gfr
train-network` makes one from its flags (each flag names a field) and records
`recorded_settings()` in the run folder and `result.json`. Importing this
module does not import Keras (the command's `--help` reads the defaults);
making a config of GFR neurons does (their option dicts live beside the code
that reads them).

Two option dicts start the neurons elsewhere than the spec's, one per kind of neuron:

    neuron_scaling_options   biological neurons: overrides of `NEURON_SCALING_OPTIONS`
                             (`gfr_keras.network.scaling`), how each neuron's drive is scaled
    default_neuron_options   default neurons: overrides of `DEFAULT_NEURON_OPTIONS`
                             (`gfr_keras.network.default_neurons`), their traces
"""

import dataclasses
import os

from gfr_keras.errors import InvalidParameterError, check_finite_number
from gfr_keras.network.renamed import renamed_keywords

NEURON_KINDS = ("default", "biological")
BASELINES = ("simple_rnn", "gru", "lstm")
TRAINING_PROTOCOLS = ("project", "reference")
SCALINGS = ("neuron", "reference")
READOUT_LOSSES = ("first", "all")
JIT_COMPILE = (True, False, "auto")

#: What `training_protocol="reference"` trains with, whatever the fields say: the published code's loss on the first
#: zero-input step, plain Adam on alpha and beta, and PyTorch's epsilon placement.
REFERENCE_TRAINING = {"readout_loss": "first", "beta_learning_rate_scale": 1.0, "alpha_learning_rate_scale": 1.0}
REFERENCE_ADAM = {"epsilon": 1e-8, "epsilon_placement": "pytorch"}

#: The alpha learning-rate factor of biological neurons under the project protocol: a fitted neuron's slow traces
#: have alpha ~0.01 and lam down to 0.01, so a plain step of 1e-3 moves its gain mean(alpha / lam) by ~1 % a step
#: and its rest away from the threshold its drive offset was set for (docs/benchmarks.md, issue #15).
BIOLOGICAL_ALPHA_LEARNING_RATE_SCALE = 1e-2

#: The keyword forms (`build_model(units, ...)`, `build_gfr_network(units, ...)`) keep the defaults they had before
#: the config: alpha trained with the plain learning rate whatever the neurons.
KEYWORD_DEFAULTS = {"alpha_learning_rate_scale": 1.0}


def parse_option_overrides(items):
    """`["centre_drive=false", "traces=fast"]` -> `{"centre_drive": False, "traces": "fast"}` (true/false as booleans).

    The values stay text otherwise (`"bin_size_ms=20"` gives `"20"`): the builders read them, and a run's
    record keeps them as given.
    """
    overrides = {}
    for item in items:
        key, _, value = str(item).partition("=")
        overrides[key] = {"true": True, "false": False}.get(value.lower(), value)
    return overrides


def _choice(value, field, choices):
    if value not in choices:
        raise InvalidParameterError(f"{field}: expected one of {list(choices)}, got {value!r}", parameter=field)
    return value


def _flag(value, field):
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{field}: expected True or False, got {value!r}", parameter=field)
    return value


def _overrides(value, field):
    if value is not None and not isinstance(value, dict):
        raise InvalidParameterError(f"{field}: expected a dict of option overrides or None, got {value!r}", parameter=field)
    return dict(value) if value else None


def _configuration(value):
    from gfr_keras.neurons.timescales import CONFIGURATIONS, parse_configuration

    if isinstance(value, str):
        return parse_configuration(value)
    configuration = tuple(value) if isinstance(value, (list, tuple)) else None
    if configuration not in CONFIGURATIONS:
        raise InvalidParameterError(
            f"configuration: expected a (bin, activation bin) pair in ms, one of {list(CONFIGURATIONS)}, got {value!r}",
            parameter="configuration",
        )
    return tuple(int(x) for x in configuration)


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """An L-MNIST model: a GFR network (or a Keras baseline), how it is built and how it is trained.

    Attributes:
        units: hidden neurons (or the baseline's units).
        baseline: None (a GFR network) or one of `BASELINES`, a Keras layer trained instead.
        neuron_kind: `"default"` (the spec's unfitted neurons) or `"biological"` (fitted neurons drawn from `dataset`).
        dataset: biological neurons: a dataset path, or a `load_dataset` dict; None: the shipped dataset.
        configuration: the (bin, activation bin) pair in ms the biological neurons are drawn at.
        freeze_neurons: train only the projections.
        freeze_activation: keep every neuron's activation g fixed (alpha and beta train).
        sample_with_replacement: biological neurons: draw cells with replacement (more neurons than cells).
        training_protocol: `"project"` or `"reference"`: the published code's scaling, PyTorch initialisation and
            training (`REFERENCE_TRAINING`, `REFERENCE_ADAM`), whatever `scaling`, `readout_loss` and the
            learning-rate scales say.
        scaling: biological neurons: `"neuron"` (each neuron's drive near its own threshold, in its own
            units: `neuron_scaling`) or `"reference"` (the published scaling).
        neuron_scaling_options: biological neurons under `scaling="neuron"`: overrides of `NEURON_SCALING_OPTIONS`.
        default_neuron_options: default neurons: overrides of `DEFAULT_NEURON_OPTIONS` (`traces`, `bin_size_ms`).
        rows, row_size: the image as `rows` steps of `row_size` pixels (28 x 28; pixel by pixel 576 x 1).
        classes: output classes.
        seed: the initial weights and the draw of biological neurons.
        learning_rate: Adam's learning rate.
        readout_loss: `"all"` (the mean loss over the 5 zero-input steps prediction averages) or `"first"`
            (the first step's, as the reference).
        beta_learning_rate_scale: factor on the learning rate of the neurons' beta (see `ScaledAdam`).
        alpha_learning_rate_scale: factor on the learning rate of alpha; None: the policy,
            `BIOLOGICAL_ALPHA_LEARNING_RATE_SCALE` for biological neurons under the project protocol, else 1
            (resolved when the config is made: `dataclasses.replace` keeps the resolved value).
        jit_compile: XLA, as `keras.Model.compile` (True, False or `"auto"`).

    Raises:
        InvalidParameterError: a field out of range or of the wrong kind (`parameter` names the field).
    """

    units: int = 256
    baseline: str = None
    neuron_kind: str = "default"
    dataset: object = None
    configuration: tuple = (20, 20)
    freeze_neurons: bool = False
    freeze_activation: bool = False
    sample_with_replacement: bool = False
    training_protocol: str = "project"
    scaling: str = "neuron"
    neuron_scaling_options: dict = None
    default_neuron_options: dict = None
    rows: int = 28
    row_size: int = 28
    classes: int = 10
    seed: int = 0
    learning_rate: float = 1e-3
    readout_loss: str = "all"
    beta_learning_rate_scale: float = 1e-3
    alpha_learning_rate_scale: float = None
    jit_compile: object = True

    def __post_init__(self):
        fields = {name: check_finite_number(getattr(self, name), name, minimum=1, integer=True)
                  for name in ("units", "rows", "row_size", "classes")}
        fields["seed"] = check_finite_number(self.seed, "seed", minimum=0, integer=True)
        for name in ("learning_rate", "beta_learning_rate_scale"):
            fields[name] = check_finite_number(getattr(self, name), name, minimum=0, exclusive_minimum=True)
        if self.baseline is not None:
            _choice(self.baseline, "baseline", BASELINES)
        for name, choices in (("neuron_kind", NEURON_KINDS), ("training_protocol", TRAINING_PROTOCOLS),
                              ("scaling", SCALINGS), ("readout_loss", READOUT_LOSSES), ("jit_compile", JIT_COMPILE)):
            _choice(getattr(self, name), name, choices)
        for name in ("freeze_neurons", "freeze_activation", "sample_with_replacement"):
            _flag(getattr(self, name), name)
        fields["configuration"] = _configuration(self.configuration)
        for name in ("neuron_scaling_options", "default_neuron_options"):
            fields[name] = _overrides(getattr(self, name), name)
        alpha = self.alpha_learning_rate_scale
        if alpha is None:
            biological_project = self.neuron_kind == "biological" and self.training_protocol == "project"
            alpha = BIOLOGICAL_ALPHA_LEARNING_RATE_SCALE if biological_project else 1.0
        fields["alpha_learning_rate_scale"] = check_finite_number(
            alpha, "alpha_learning_rate_scale", minimum=0, exclusive_minimum=True)
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        self._check_neuron_options()

    def _check_neuron_options(self):
        """The option overrides of the neurons that are built (those of the other kind, or of a baseline, are not read)."""
        if self.baseline or self.applied_scaling == "reference":
            return
        if self.neuron_kind == "biological":
            from gfr_keras.network.scaling import neuron_scaling_options

            neuron_scaling_options(self.neuron_scaling_options)
        else:
            from gfr_keras.network.default_neurons import default_neuron_options

            default_neuron_options(self.default_neuron_options)

    @classmethod
    def with_scaling_options(cls, scaling_options=None, **fields):
        """A config whose neurons get `scaling_options`: `neuron_scaling_options` for biological neurons, else
        `default_neuron_options` (one dict of overrides, as `gfr train-network --scaling-option` gives)."""
        if scaling_options:
            name = "neuron_scaling_options" if fields.get("neuron_kind") == "biological" else "default_neuron_options"
            fields[name] = scaling_options
        unknown = sorted(set(fields) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise InvalidParameterError(f"{unknown[0]}: not an option of the network (unknown: {unknown})", parameter=unknown[0])
        return cls(**fields)

    @classmethod
    def from_keywords(cls, units=256, scaling_options=None, **fields):
        """The keyword form of `build_model` / `build_gfr_network` (`KEYWORD_DEFAULTS` under the keywords given; the
        deprecated `neurons=` and `protocol=` as `neuron_kind=` and `training_protocol=`, `gfr_keras.network.renamed`)."""
        fields = renamed_keywords(fields)
        return cls.with_scaling_options(scaling_options, units=units, **{**KEYWORD_DEFAULTS, **fields})

    @classmethod
    def coerce(cls, config, keywords):
        """A `NetworkConfig` as given (no `keywords` then), or the keyword form: `config` the units."""
        if isinstance(config, cls):
            if keywords:
                raise InvalidParameterError(f"config: a NetworkConfig and keywords {sorted(keywords)}; give one or the other "
                                            "(dataclasses.replace changes a config)", parameter="config")
            return config
        return cls.from_keywords(**{"units": config, **keywords})

    @property
    def applied_scaling(self):
        """The scaling the neurons get: the published one under `training_protocol="reference"`, else `scaling`.

        Default neurons under the published scaling are the spec's (`traces="fast"`, 4 decay rates),
        whatever `default_neuron_options` say.
        """
        return "reference" if self.training_protocol == "reference" else self.scaling

    @property
    def scaling_options(self):
        """The option overrides of this config's kind of neurons (None when there are none)."""
        return self.neuron_scaling_options if self.neuron_kind == "biological" else self.default_neuron_options

    def training(self):
        """What `compile_network` trains with: `readout_loss`, `multipliers` (alpha and beta) and Adam's keywords.

        `training_protocol="reference"` trains as the published code (`REFERENCE_TRAINING`, `REFERENCE_ADAM`).
        """
        chosen = {"readout_loss": self.readout_loss, "beta_learning_rate_scale": self.beta_learning_rate_scale,
                  "alpha_learning_rate_scale": self.alpha_learning_rate_scale}
        reference = self.training_protocol == "reference"
        chosen = {**chosen, **REFERENCE_TRAINING} if reference else chosen
        return {
            "readout_loss": chosen["readout_loss"],
            "multipliers": {"beta": chosen["beta_learning_rate_scale"], "alpha": chosen["alpha_learning_rate_scale"]},
            "adam": dict(REFERENCE_ADAM) if reference else {},
        }

    def recorded_settings(self, neurons_from=None):
        """The settings a run records (`gfr_settings.json`, compared by a rerun; `result.json`).

        The keys and values are those runs recorded before the config existed (`n_nodes`, `lr`,
        `beta_lr_scale`, ...), so a rerun into an earlier run folder still finds its settings equal:
        the options as asked for (not what the reference protocol trains with), None for those the
        model does not use; `neuron_kind` and `training_protocol` under the keys of their flags, `neurons` and
        `protocol`. `neurons_from`: the run folder a permuted network draws its neurons from.
        """
        gfr = not self.baseline
        built_here = gfr and not neurons_from
        return {
            "baseline": self.baseline,
            "neurons": self.neuron_kind if gfr else None,
            "freeze_neurons": self.freeze_neurons,
            "freeze_activation": self.freeze_activation,
            "n_nodes": self.units,
            "readout_loss": self.readout_loss if gfr else None,
            "beta_lr_scale": self.beta_learning_rate_scale if gfr else None,
            "alpha_lr_scale": self.alpha_learning_rate_scale if gfr else None,
            "sample_with_replacement": self.sample_with_replacement,
            "lr": self.learning_rate,
            "protocol": self.training_protocol,
            "scaling": self.scaling if gfr and self.neuron_kind == "biological" else None,
            "scaling_options": self.scaling_options,
            "default_neuron_options": self._default_neuron_settings() if built_here and self.neuron_kind == "default" else None,
            "neurons_from": neurons_from,
            "configuration": list(self.configuration) if gfr else None,
            "dataset": self._dataset_settings() if built_here and self.neuron_kind == "biological" else None,
        }

    def _default_neuron_settings(self):
        from gfr_keras.network.default_neurons import default_neuron_settings

        return default_neuron_settings(self.default_neuron_options, self.applied_scaling)

    def _dataset_settings(self):
        """Which dataset the biological neurons come from and what it is (its provenance)."""
        from gfr_keras.dataset import SHIPPED_DATASET_PATH, describe_provenance, read_provenance

        if isinstance(self.dataset, dict):
            return None  # a dataset in memory: no file to name
        path = os.fspath(SHIPPED_DATASET_PATH if self.dataset is None else self.dataset)
        return {"path": path, "provenance": describe_provenance(read_provenance(path))}

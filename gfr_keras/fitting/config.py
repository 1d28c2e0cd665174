"""The fit config: how the fit proceeds (spec section 6), as a validated, immutable `FitConfig`.

Fit configs are JSON files in the published layout::

    {"config_name": "default", "activation_epochs": 1000, "activation_repeats": 3,
     "activation_lr": 0.05, "eps": 1e-8, "early_stop_repeats": 3, "seed": 0,
     "hparams": [{"lr": 1e-2, "epochs": 200}, {"lr": 1e-3, "epochs": 200}, ...]}

The published code's own `configs/default.json` and `configs/test.json` are read
verbatim: every key they hold (`config_name`, `activation_epochs`,
`activation_repeats`, `freeze_activation`, `eps`, `hparams`, `finetune`,
`retrain_model`) is a `FitConfig` field with the published meaning
(docs/fidelity.md F13).

The package ships `default` (the published fit config) and `test` (a quick one), so
`load_fit_config("default")` works from any folder and after `pip install`.
"""

import dataclasses
import math
import numbers
import os
from importlib import resources

from gfr_keras.errors import InputError
from gfr_keras.io_utils import read_json, require_path

CONFIGS_DIR = resources.files("gfr_keras") / "resources" / "configs"


class ConfigError(InputError):
    """A fit config (`FitConfig`) is malformed; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class LearningRateRun:
    """One copy of every cell trained with its own learning rate for up to `epochs` epochs."""

    lr: float
    epochs: int


def _positive_int(value, key, source):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{source}: key '{key}': expected a positive integer, got {value!r}")
    return int(value)


def _positive_float(value, key, source):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{source}: key '{key}': expected a positive number, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """A fit config: how the fit proceeds. Defaults are the published ones (`default.json`).

    Attributes:
        config_name: recorded in every fit file.
        activation_epochs: Adam steps of the activation fit (full batch).
        activation_repeats: restarts of the activation fit; the lowest final loss is kept.
        activation_lr: the activation fit's learning rate.
        eps: added inside the main fit's Poisson loss's log (the published
            `PoissonNLLLoss(eps=config["eps"])`). The activation fit's loss
            keeps PyTorch's default 1e-8 whatever `eps` is, as published.
        adam_epsilon: Adam's epsilon in both fits (the published
            `torch.optim.Adam` default, 1e-8; `eps` does not change it).
        freeze_activation: the published config key (`GFR(freeze_g=...)`):
            true (default, both published configs) keeps the fitted activation
            `g` fixed while alpha and beta are fitted; false trains `g`'s
            threshold and coefficients with them (the penalty `C` still weighs
            alpha and beta only, as the published `reg`).
        hparams: the learning-rate runs, each a copy of every cell.
        early_stop_repeats: a run stops once its training loss is exactly equal
            this many epochs in a row.
        seed: the order of the training batches and the activation starts.
        loss_on_padding: count the zero-padded bins of a cell's shorter sweeps in
            its loss, as the published `train.train_model` does (default; false
            masks them out: measured no better, docs/fidelity.md F3).
        retrain_model: the published config key. A cell that already has a
            successful fit keeps its activation g, is fitted again, and the new
            parameters replace the old only when its validation EVR improves
            (default false: a rerun fits only cells without a fit file).
        penalty: the norm `C` weighs: `"l1"` (sum of |alpha| and |beta|) or
            `"l0"` (the published `reg(p=0)`, a count of non-zero weights whose
            gradient is zero, so `C` leaves the fit unchanged, as published).
        finetune: the published config key. With `retrain_model`, every
            learning-rate run starts from the cell's saved alpha and beta
            instead of fresh ones.

    The activation degree and the penalty weight `C` are not fit-config keys:
    the published pipeline takes them as arguments beside the configuration,
    and every fit file and fit folder record keeps them at its top level
    (`fit_folder(..., degree=, C=)`, `gfr fit --degree --C`), so that a config
    file stays the published layout and one file serves every degree and `C`.
    """

    config_name: str = "default"
    activation_epochs: int = 1000
    activation_repeats: int = 3
    activation_lr: float = 0.05
    eps: float = 1e-8
    adam_epsilon: float = 1e-8
    freeze_activation: bool = True
    hparams: tuple = (LearningRateRun(1e-2, 200), LearningRateRun(1e-3, 200), LearningRateRun(1e-4, 200))
    early_stop_repeats: int = 3
    seed: int = 0
    loss_on_padding: bool = True
    retrain_model: bool = False
    finetune: bool = False
    penalty: str = "l1"

    @classmethod
    def from_dict(cls, values, source="config"):
        """Validate a dict in the JSON layout; `source` names it in errors (a file path)."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; expected keys among {sorted(known)}")
        fields = dict(values)
        if "config_name" in fields and not isinstance(fields["config_name"], str):
            raise ConfigError(f"{source}: key 'config_name': expected a string, got {fields['config_name']!r}")
        for key in ("activation_epochs", "activation_repeats", "early_stop_repeats"):
            if key in fields:
                fields[key] = _positive_int(fields[key], key, source)
        for key in ("activation_lr", "eps", "adam_epsilon"):
            if key in fields:
                fields[key] = _positive_float(fields[key], key, source)
        if "seed" in fields:
            seed = fields["seed"]
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ConfigError(f"{source}: key 'seed': expected a non-negative integer, got {seed!r}")
        for key in ("loss_on_padding", "retrain_model", "finetune", "freeze_activation"):
            if key in fields and not isinstance(fields[key], bool):
                raise ConfigError(f"{source}: key '{key}': expected true or false, got {fields[key]!r}")
        if fields.get("penalty", "l1") not in ("l1", "l0"):
            raise ConfigError(f"{source}: key 'penalty': expected 'l1' or 'l0', got {fields['penalty']!r}")
        if "hparams" in fields:
            fields["hparams"] = cls._runs(fields["hparams"], source)
        return cls(**fields)

    @staticmethod
    def _runs(runs, source):
        if not isinstance(runs, (list, tuple)) or not runs:
            raise ConfigError(f"{source}: key 'hparams': expected a non-empty list of {{'lr': ..., 'epochs': ...}}, got {runs!r}")
        parsed = []
        for index, run in enumerate(runs):
            key = f"hparams[{index}]"
            if isinstance(run, LearningRateRun):
                run = dataclasses.asdict(run)
            if not isinstance(run, dict) or set(run) != {"lr", "epochs"}:
                raise ConfigError(f"{source}: key '{key}': expected {{'lr': ..., 'epochs': ...}}, got {run!r}")
            parsed.append(
                LearningRateRun(_positive_float(run["lr"], f"{key}.lr", source), _positive_int(run["epochs"], f"{key}.epochs", source))
            )
        return tuple(parsed)

    @classmethod
    def from_json(cls, path):
        """Read and validate a config file; errors name the file."""
        path = os.fspath(path)
        return cls.from_dict(read_json(path, ConfigError), path)

    @classmethod
    def coerce(cls, config):
        """`None` (the defaults), a dict (overrides of the defaults) or a `FitConfig`."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        return cls.from_dict(config)

    @property
    def max_epochs(self):
        return max(run.epochs for run in self.hparams)

    def to_dict(self):
        """The JSON layout."""
        values = dataclasses.asdict(self)
        values["hparams"] = [dataclasses.asdict(run) for run in self.hparams]
        return values


def packaged_configs():
    """Names of the fit configs shipped with the package (`default`, `test`)."""
    return sorted(p.name[:-5] for p in CONFIGS_DIR.iterdir() if p.name.endswith(".json"))


def load_fit_config(name_or_path):
    """A `FitConfig`: a packaged fit config by name (`"default"`, `"test"`) or a fit config file by path."""
    text = os.fspath(name_or_path)
    if text in packaged_configs():
        return FitConfig.from_json(CONFIGS_DIR / f"{text}.json")
    require_path(text, "name_or_path", f"is neither a file nor one of the packaged configs {packaged_configs()}")
    return FitConfig.from_json(text)

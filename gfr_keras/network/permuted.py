"""Permuted networks: frozen neurons resampled from a trained network, with fresh projections.

The published `network_pipeline.permuted_network` loads a network whose neurons
were trained, draws 256 indices with replacement and builds a new network whose
neuron `i` is the trained neuron `idx[i]` (its alpha, beta and activation g),
frozen, with freshly initialised input, recurrent and readout projections; only
the projections are then trained. The experiment asks whether what the trained
neurons learned is the neurons themselves or their place in the wiring.

Here the new network has the trained one's architecture (`keras.Model.from_config`),
so it works for default and biological neurons and either protocol. Per-neuron
constants that belong to a neuron (its input scale, drive offset and readout
factor under the neuron scaling) move with it.
"""

import os

import keras
import numpy as np

from gfr_keras.errors import InputError, MissingInputError
from gfr_keras.io_utils import load_keras_file

#: Per-unit constants in the network cell's config that describe a neuron, not a wire.
NEURON_CONSTANTS = ("input_scale", "recurrent_scale", "drive_offset")


def load_trained_network(source):
    """A trained L-MNIST network: a `keras.Model`, a `.keras` file or a run folder (its `best.keras`)."""
    if isinstance(source, keras.Model):
        return source
    path = os.fspath(source)
    if os.path.isdir(path):
        path = os.path.join(path, "best.keras")
    if not os.path.exists(path):
        raise MissingInputError(
            f"source: {path} does not exist (expected a run folder with best.keras or a .keras file)",
            parameter="source", path=path,
        )
    return load_keras_file(path, "source")


def _network_cell(model):
    try:
        return model.get_layer("gfr_rnn").cell
    except ValueError:
        raise InputError(
            f"source: model {model.name!r} has no GFR layer 'gfr_rnn' (a baseline?)", parameter="source"
        ) from None


def _permuted_config(config, indices):
    """The trained model's config with its neurons frozen and per-neuron constants permuted."""
    pick = lambda value: value if np.isscalar(value) else [value[int(i)] for i in indices]
    for layer in config["layers"]:
        if layer["class_name"] == "GFRNetworkRNN":
            cell = layer["config"]["cell"]["config"]
            cell.update(freeze_neurons=True, freeze_activation=True)
            for key in NEURON_CONSTANTS:
                cell[key] = pick(cell[key])
        elif layer["class_name"] == "ScaleRates":
            layer["config"]["factors"] = pick(layer["config"]["factors"])
    return config


def permuted_network(source, seed=0):
    """A network whose frozen neurons are drawn with replacement from `source`'s, with fresh projections.

    Args:
        source: the trained network (`keras.Model`, `.keras` path or run folder).
        seed: the draw of the neurons and the fresh projections' initialisation.

    Returns:
        `(model, indices)`: the uncompiled model (same architecture and size as
        `source`, neurons frozen; compile it with `compile_network`) and, per
        new neuron, the index of the trained neuron it copies.
    """
    trained = load_trained_network(source)
    cell = _network_cell(trained)
    units = cell.units
    indices = np.random.default_rng(seed).integers(0, units, size=units)  # with replacement, as published
    keras.utils.set_random_seed(seed)  # the fresh projections
    model = keras.Model.from_config(_permuted_config(trained.get_config(), indices))
    new_cell = _network_cell(model)
    for new, old in zip(new_cell.neurons.weights, cell.neurons.weights):
        value = keras.ops.convert_to_numpy(old.value)
        new.assign(value[indices] if value.shape and value.shape[0] == units else value)
    return model, indices

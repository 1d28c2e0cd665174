"""Keras' own recurrent layers with the GFR network's outputs, for side-by-side comparisons."""

import keras

from gfr_keras.network.config import BASELINES


def build_baseline(kind, units, rows=28, row_size=28, classes=10, seed=0):
    """A `kind` layer of `units` units over image rows, with `logits` and `probabilities` outputs.

    Args:
        kind: one of `BASELINES`.
        units: hidden units.
        rows, row_size: the image as a sequence of `rows` steps of `row_size` pixels.
    """
    if kind not in BASELINES:
        raise ValueError(f"baseline: expected one of {BASELINES}, got {kind!r}")
    keras.utils.set_random_seed(seed)
    layer = {"simple_rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[kind]
    images = keras.Input((rows, row_size), name="images")
    logits = keras.layers.Dense(classes, name="readout")(layer(units, name=kind)(images))
    outputs = {
        "logits": keras.layers.Identity(name="logits")(logits),
        "probabilities": keras.layers.Softmax(name="probabilities")(logits),
    }
    return keras.Model(images, outputs, name=kind)

"""GFR neurons as Keras layers: the model itself, with nothing about data or training.

Owns the time scales of each bin size, the parameter dicts of spec section 4 and
their validation, the polynomial activation, the population cell and its RNN
layer, initializers, input checks and kernels over time.

Layering: imports only Keras, numpy and `gfr_keras.units`/`gfr_keras.io_utils`;
every other subpackage may import it, it imports none of them.
"""

# Imported on first use (gfr_keras._lazy): the time scales and parameter checks need no Keras.
from gfr_keras._lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, {
    "gfr_keras.neurons.activation": ("PolynomialActivation",),
    "gfr_keras.neurons.cell": ("GFRCell",),
    "gfr_keras.neurons.initializers": ("OneHot",),
    "gfr_keras.neurons.kernels": ("kernel_over_time",),
    "gfr_keras.neurons.layer": ("GFR",),
    "gfr_keras.neurons.params": ("ParameterError", "fresh_params", "validate_params"),
    "gfr_keras.neurons.timescales": ("CONFIGURATIONS", "decay_rates"),
})

"""GFR neurons as Keras layers: the model itself, with nothing about data or training.

Owns the time scales of each bin size, the parameter dicts of spec section 4 and
their validation, the polynomial activation, the recurrence as one pure step
function of typed weights and state (`step`), the population cell and its RNN
layer, initializers, input checks and kernels over time.

Layering: imports only Keras, numpy and `gfr_keras.units`/`gfr_keras.io_utils`;
every other subpackage may import it, it imports none of them.
"""

# Imported on first use: the time scales and parameter checks need no Keras.
from gfr_keras._lazy_package import attach_lazily

__getattr__, __dir__, __all__ = attach_lazily(__name__, {
    "activation": "ActivationWeights PolynomialActivation polynomial_rates",
    "cell": "GFRCell",
    "initializers": "OneHot",
    "kernels": "kernel_over_time",
    "layer": "GFR",
    "params": "ParameterError fresh_params validate_params",
    "step": "NeuronState NeuronWeights gfr_step",
    "timescales": "CONFIGURATIONS decay_rates",
}, other_modules=("input_checks",))

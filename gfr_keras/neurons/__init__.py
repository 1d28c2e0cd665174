"""GFR neurons as Keras layers: the model itself, with nothing about data or training.

Owns the time scales of each bin size, the parameter dicts of spec section 4 and
their validation, the polynomial activation, the population cell and its RNN
layer, initializers, input checks and kernels over time.

Layering: imports only Keras, numpy and `gfr_keras.units`/`gfr_keras.io_utils`;
every other subpackage may import it, it imports none of them.
"""

from gfr_keras.neurons.activation import PolynomialActivation
from gfr_keras.neurons.cell import GFRCell
from gfr_keras.neurons.initializers import OneHot
from gfr_keras.neurons.kernels import kernel_over_time
from gfr_keras.neurons.layer import GFR
from gfr_keras.neurons.params import ParameterError, fresh_params, validate_params
from gfr_keras.neurons.timescales import CONFIGURATIONS, decay_rates

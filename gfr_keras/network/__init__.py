"""Networks of GFR neurons: the line-by-line MNIST model, its data and the Keras
baselines it is compared with.

Layering: imports `neurons`, `dataset` (biological neurons from records) and the
base modules; never `ephys`, `fitting` or `serving`.
"""

from gfr_keras.network.default_neurons import DEFAULT_NEURON_OPTIONS, default_neurons
from gfr_keras.network.cell import READOUT_STEPS, GFRNetworkCell, GFRNetworkRNN
from gfr_keras.network.model import build_gfr_network, compile_network
from gfr_keras.network.readout import AppendZeroSteps, ReadoutCrossentropy, ReadoutSteps, ScaleRates, SelectSteps, network_targets
from gfr_keras.network.scaling import SCALING_OPTIONS, biological_neurons, neuron_scaling, sample_records
from gfr_keras.network.permuted import permuted_network

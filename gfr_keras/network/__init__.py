"""Networks of GFR neurons: the line-by-line MNIST model, its options (`NetworkConfig`), its data and the
Keras baselines it is compared with.

Layering: imports `neurons`, `dataset` (biological neurons from records) and the
base modules; never `ephys`, `fitting` or `serving`.
"""

# Imported on first use: the network's options (`config`) need no Keras, so `gfr train-network --help` reads
# their defaults without importing it.
from gfr_keras._lazy_package import attach_lazily

__getattr__, __dir__, __all__ = attach_lazily(__name__, {
    "cell": "READOUT_STEPS GFRNetworkCell GFRNetworkRNN",
    "config": "NetworkConfig parse_option_overrides",
    "default_neurons": "DEFAULT_NEURON_OPTIONS default_neuron_options default_neurons",
    "model": "build_gfr_network compile_network",
    "permuted": "permuted_network",
    "readout": "AppendZeroSteps ReadoutCrossentropy ReadoutSteps ScaleRates SelectSteps network_targets",
    "scaling": (
        "NEURON_SCALING_OPTIONS SCALING_OPTIONS BiologicalNeurons biological_neurons neuron_scaling "
        "neuron_scaling_options sample_records"
    ),
    "train": "build_model",
}, other_modules=("baselines", "loop", "mnist", "renamed", "run_folder"))

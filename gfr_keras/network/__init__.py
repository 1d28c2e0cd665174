"""Networks of GFR neurons: the line-by-line MNIST model, its options (`NetworkConfig`), its data and the
Keras baselines it is compared with.

Layering: imports `neurons`, `dataset` (biological neurons from records) and the
base modules; never `ephys`, `fitting` or `serving`.
"""

# Imported on first use (lazy_loader): the network's options (`config`) need no Keras, so `gfr train-network
# --help` reads their defaults without importing it.
import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=(
        "baselines", "cell", "config", "default_neurons", "loop", "mnist", "model", "permuted", "readout", "renamed",
        "run_folder", "scaling", "train",
    ),
    submod_attrs={
        "cell": ("READOUT_STEPS", "GFRNetworkCell", "GFRNetworkRNN"),
        "config": ("NetworkConfig", "parse_option_overrides"),
        "default_neurons": ("DEFAULT_NEURON_OPTIONS", "default_neuron_options", "default_neurons"),
        "model": ("build_gfr_network", "compile_network"),
        "permuted": ("permuted_network",),
        "readout": ("AppendZeroSteps", "ReadoutCrossentropy", "ReadoutSteps", "ScaleRates", "SelectSteps", "network_targets"),
        "scaling": (
            "NEURON_SCALING_OPTIONS", "SCALING_OPTIONS", "BiologicalNeurons", "biological_neurons", "neuron_scaling",
            "neuron_scaling_options", "sample_records",
        ),
        "train": ("build_model",),
    },
)

"""gfr-keras: Generalized Firing Rate neurons for Keras 3.

The package is layered; each subpackage imports only those above it in this list:

    units, io_utils, optimizers   base: unit constants, atomic writes, optimizers
    neurons/    the model: time scales, parameters, activation, cell, layer, kernels
    dataset/    the parameter dataset: records, pandas views, filters, lookup, EVR
    ephys/      recordings in: Allen ingestion, binning, processed cells, synthetic bank
    fitting/    neurons fitted to processed cells: fit data, config, optimizer, trainer
    network/    L-MNIST networks of GFR neurons, MNIST data, Keras baselines, training
    serving/    SavedModels for TF Serving and client helpers
    plots       figures the commands draw and the notebooks reuse
"""

from gfr_keras.dataset import (
    COLUMNS,
    REFERENCE_DATASET_PATH,
    SHIPPED_DATASET_PATH,
    DatasetError,
    GFRModel,
    explained_variance,
    explained_variance_ratio,
    load_dataset,
    load_gfr_model,
    lookup_records,
    parameter_table,
    population_from_records,
    quantize_rates,
    quantized_explained_variance_ratio,
    read_dataset,
    validate_record,
    write_dataset,
)
from gfr_keras.ephys.processed import read_processed_cell, write_processed_cell
from gfr_keras.fitting.config import FitConfig, load_fit_config
from gfr_keras.network import (  # also registers the network's layers for .keras loading
    AppendZeroSteps,
    GFRNetworkCell,
    GFRNetworkRNN,
    ReadoutCrossentropy,
    ReadoutSteps,
    build_gfr_network,
    compile_network,
    network_targets,
)
from gfr_keras.neurons import (
    CONFIGURATIONS,
    GFR,
    GFRCell,
    OneHot,
    ParameterError,
    PolynomialActivation,
    decay_rates,
    kernel_over_time,
    validate_params,
)
from gfr_keras.optimizers import ScaledAdam
from gfr_keras.units import HZ_PER_PER_MS

__version__ = "0.1.0"

__all__ = [
    "COLUMNS",
    "CONFIGURATIONS",
    "REFERENCE_DATASET_PATH",
    "SHIPPED_DATASET_PATH",
    "DatasetError",
    "GFR",
    "GFRCell",
    "GFRModel",
    "GFRNetworkCell",
    "GFRNetworkRNN",
    "ReadoutCrossentropy",
    "ScaledAdam",
    "network_targets",
    "AppendZeroSteps",
    "ReadoutSteps",
    "build_gfr_network",
    "compile_network",
    "explained_variance",
    "explained_variance_ratio",
    "load_dataset",
    "load_gfr_model",
    "lookup_records",
    "parameter_table",
    "quantize_rates",
    "quantized_explained_variance_ratio",
    "population_from_records",
    "read_processed_cell",
    "write_processed_cell",
    "read_dataset",
    "validate_record",
    "write_dataset",
    "OneHot",
    "ParameterError",
    "PolynomialActivation",
    "decay_rates",
    "validate_params",
    "FitConfig",
    "load_fit_config",
    "kernel_over_time",
    "HZ_PER_PER_MS",
]

"""gfr-keras: Generalized Firing Rate neurons for Keras 3.

The package is layered; each subpackage imports only those above it in this list:

    units, errors, io_utils, optimizers,  base: unit constants, typed errors, atomic writes, optimizers,
    run_settings, allen_metadata,         the settings record of output folders, the shipped Allen cell
    process_pool, comparison              table (path, species by cell), jobs in spawned processes,
                                          side-by-side statistics
    compilation_cache                     compiled steps kept on disk between runs
    neurons/    the model: time scales, parameters, activation, cell, layer, kernels
    dataset/    the parameter dataset: records, pandas views, filters, lookup, EVR
    ephys/      recordings in: Allen ingestion, binning, processed cells, synthetic banks
    fitting/    neurons fitted to processed cells: fit data, config, optimizer, trainer
    network/    L-MNIST networks of GFR neurons, MNIST data, Keras baselines, training
    serving/    SavedModels for TF Serving and client helpers
    plots       figures the `gfr` commands draw
"""

# Public names, imported on first use (gfr_keras._keras_registration says why): `import gfr_keras`
# alone does not import Keras, so commands without Keras start fast.
from gfr_keras._keras_registration import register_keras_classes, register_keras_classes_with_keras
from gfr_keras._lazy_package import attach_lazily

__getattr__, __dir__, __all__ = attach_lazily(__name__, {
    "compilation_cache": "enable_compilation_cache",
    "dataset": (
        "COLUMNS REFERENCE_DATASET_PATH SHIPPED_DATASET_PATH DatasetError GFRModel describe_provenance "
        "explained_variance explained_variance_ratio load_dataset load_gfr_model lookup_records parameter_table "
        "population_from_records quantize_rates quantized_explained_variance_ratio read_dataset read_provenance "
        "validate_record write_dataset"
    ),
    "ephys.processed": "read_processed_cell write_processed_cell",
    "fitting.config": "FitConfig load_fit_config",
    "network": (
        "AppendZeroSteps GFRNetworkCell GFRNetworkRNN NetworkConfig ReadoutCrossentropy ReadoutSteps build_gfr_network "
        "compile_network network_targets"
    ),
    "neurons": (
        "CONFIGURATIONS GFR GFRCell OneHot ParameterError PolynomialActivation decay_rates kernel_over_time "
        "validate_params"
    ),
    "optimizers": "ScaledAdam",
    "units": "HZ_PER_PER_MS",
}, other_modules=("errors", "io_utils", "plots", "report", "serving", "showcase"))

# `.keras` files saved with gfr-keras's layers load after `import gfr_keras`, Keras imported before or after.
register_keras_classes_with_keras()

__version__ = "0.1.0"

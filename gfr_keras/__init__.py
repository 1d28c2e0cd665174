"""gfr-keras: Generalized Firing Rate neurons for Keras 3."""

from gfr_keras.activation import PolynomialActivation
from gfr_keras.cell import GFRCell
from gfr_keras.initializers import OneHot
from gfr_keras.dataset import (
    COLUMNS,
    REFERENCE_DATASET_PATH,
    SHIPPED_DATASET_PATH,
    DatasetError,
    load_dataset,
    lookup_records,
    read_dataset,
    validate_record,
    write_dataset,
)
from gfr_keras.layer import GFR
from gfr_keras.metrics import explained_variance, explained_variance_ratio
from gfr_keras.models import GFRModel, load_gfr_model, population_from_records
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
from gfr_keras.optimizers import ScaledAdam
from gfr_keras.params import ParameterError, validate_params
from gfr_keras.processed import read_processed_cell, write_processed_cell
from gfr_keras.timescales import CONFIGURATIONS, decay_rates

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
]

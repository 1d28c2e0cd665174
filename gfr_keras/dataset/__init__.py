"""The GFR parameter dataset: records, validation, the pandas views, the published
filters, lookups by cell id (`load_gfr_model`), the explained variance ratio (plain and
quantised) and the one-table view (`parameter_table`).

Layering: imports `gfr_keras.neurons` (to validate parameters and build models)
and the base modules; never `ephys`, `fitting`, `network` or `serving`.
"""

from gfr_keras.dataset.build import build_records, format_table
from gfr_keras.dataset.fits import FitStatus, read_fits
from gfr_keras.dataset.filters import MAX_TRAIN_LOSS, MIN_VAL_EVR, passes_filters
from gfr_keras.dataset.frames import load_dataset
from gfr_keras.dataset.lookup import GFRModel, load_gfr_model, lookup_records, population_from_records
from gfr_keras.dataset.metrics import (
    explained_variance,
    explained_variance_ratio,
    quantize_rates,
    quantized_explained_variance_ratio,
)
from gfr_keras.dataset.records import (
    COLUMNS,
    REFERENCE_DATASET_PATH,
    SHIPPED_DATASET_PATH,
    DatasetError,
    read_dataset,
    validate_record,
    write_dataset,
)
from gfr_keras.dataset.table import parameter_table

"""The GFR parameter dataset: records, validation, the pandas views, the published
filters, lookups by cell id (`load_gfr_model`), the explained variance ratio (plain and
quantised), the one-table view (`parameter_table`) and the provenance sidecar (where the
cells came from and how they were fitted; `describe_provenance`).

Layering: imports `gfr_keras.neurons` (to validate parameters and build models)
and the base modules; never `ephys`, `fitting`, `network` or `serving`.
"""

# Imported on first use (gfr_keras._lazy): records, fits and filters need no Keras.
from gfr_keras._lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, {
    "gfr_keras.dataset.build": ("build_dataset", "build_records", "format_table"),
    "gfr_keras.dataset.fits": ("FitStatus", "read_fits"),
    "gfr_keras.dataset.filters": ("MAX_TRAIN_LOSS", "MIN_VAL_EVR", "passes_filters"),
    "gfr_keras.dataset.frames": ("load_dataset",),
    "gfr_keras.dataset.lookup": ("GFRModel", "load_gfr_model", "lookup_records", "population_from_records"),
    "gfr_keras.dataset.metrics": (
        "explained_variance", "explained_variance_ratio", "quantize_rates", "quantized_explained_variance_ratio",
    ),
    "gfr_keras.dataset.records": (
        "COLUMNS", "REFERENCE_DATASET_PATH", "SHIPPED_DATASET_PATH", "DatasetError", "read_dataset",
        "validate_record", "write_dataset",
    ),
    "gfr_keras.dataset.provenance": ("describe_provenance", "read_provenance", "sidecar_path"),
    "gfr_keras.dataset.table": ("parameter_table",),
})

"""The GFR parameter dataset: records, validation, the pandas views, the published
filters, lookups by cell id (`load_gfr_model`), the explained variance ratio (plain and
quantised), the one-table view (`parameter_table`) and the provenance sidecar (where the
cells came from and how they were fitted; `describe_provenance`).

Layering: imports `gfr_keras.neurons` (to validate parameters and build models)
and the base modules (the species of a cell from `allen_metadata`); never `ephys`,
`fitting`, `network` or `serving`.
"""

# Imported on first use: records, fits and filters need no Keras.
from gfr_keras._lazy_package import attach_lazily

__getattr__, __dir__, __all__ = attach_lazily(__name__, {
    "build": "build_dataset build_records format_table",
    "filters": "MAX_TRAIN_LOSS MIN_VAL_EVR passes_filters",
    "fits": "FitStatus read_fits",
    "frames": "load_dataset",
    "lookup": "GFRModel load_gfr_model lookup_records population_from_records",
    "metrics": "explained_variance explained_variance_ratio quantize_rates quantized_explained_variance_ratio",
    "provenance": "describe_provenance read_provenance sidecar_path",
    "records": (
        "COLUMNS METRICS REFERENCE_DATASET_PATH SHIPPED_DATASET_PATH DatasetError read_dataset records_from_frames "
        "validate_record validate_records write_dataset"
    ),
    "table": "parameter_table",
})

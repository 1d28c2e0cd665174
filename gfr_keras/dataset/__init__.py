"""The GFR parameter dataset: records, validation, the pandas views, the published
filters, lookups by cell id (`load_gfr_model`), the explained variance ratio (plain and
quantised), the one-table view (`parameter_table`) and the provenance sidecar (where the
cells came from and how they were fitted; `describe_provenance`).

Layering: imports `gfr_keras.neurons` (to validate parameters and build models)
and the base modules (the species of a cell from `allen_metadata`); never `ephys`,
`fitting`, `network` or `serving`.
"""

# Imported on first use (lazy_loader): records, fits and filters need no Keras.
import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=("build", "filters", "fits", "frames", "lookup", "metrics", "provenance", "records", "table"),
    submod_attrs={
        "build": ("build_dataset", "build_records", "format_table"),
        "fits": ("FitStatus", "read_fits"),
        "filters": ("MAX_TRAIN_LOSS", "MIN_VAL_EVR", "passes_filters"),
        "frames": ("load_dataset",),
        "lookup": ("GFRModel", "load_gfr_model", "lookup_records", "population_from_records"),
        "metrics": (
            "explained_variance", "explained_variance_ratio", "quantize_rates", "quantized_explained_variance_ratio",
        ),
        "provenance": ("describe_provenance", "read_provenance", "sidecar_path"),
        "records": (
            "COLUMNS", "METRICS", "REFERENCE_DATASET_PATH", "SHIPPED_DATASET_PATH", "DatasetError", "read_dataset",
            "records_from_frames", "validate_record", "validate_records", "write_dataset",
        ),
        "table": ("parameter_table",),
    },
)

"""The dataset's pandas view: one DataFrame per configuration (the published layout)."""

import os

import pandas as pd

from gfr_keras.dataset.provenance import read_provenance
from gfr_keras.dataset.records import COLUMNS, METRICS, read_dataset, validate_records
from gfr_keras.neurons.timescales import CONFIGURATIONS


def load_dataset(dataset):
    """The dataset as one DataFrame per configuration.

    Args:
        dataset: a path to a dataset JSON file, or a list of records.

    Returns:
        dict keyed by `(bin_size, actv_bin_size)` over the six published
        configurations (an empty DataFrame where the file has none), each a
        DataFrame with columns `COLUMNS` (`params` holds the spec dict) and
        `attrs["provenance"]`: the file's provenance sidecar as a dict
        (docs/dataset_format.md), or None for a file without one (the published
        dataset) or a list of records; `describe_provenance` says it in a sentence.
    """
    provenance = None
    if isinstance(dataset, (str, os.PathLike)):
        records = read_dataset(dataset)
        provenance = read_provenance(dataset)
    else:
        records = list(dataset)
        validate_records(records, "records")
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame = frame.astype({"cell_id": "int64", "bin_size": "int64", "actv_bin_size": "int64"})
    for key in METRICS:
        frame[key] = pd.to_numeric(frame[key], errors="coerce").astype("float64")
    frames = {
        configuration: frame[
            (frame["bin_size"] == configuration[0]) & (frame["actv_bin_size"] == configuration[1])
        ].reset_index(drop=True)
        for configuration in CONFIGURATIONS
    }
    for configuration_frame in frames.values():
        configuration_frame.attrs["provenance"] = provenance
    return frames


def as_frames(dataset):
    if isinstance(dataset, dict):
        return dataset
    return load_dataset(dataset)

"""The report's only reach into internals that `gfr_keras` does not export.

Each adapter imports one thing from where it lives today, so that when the
package is restructured only this file needs repointing. Nothing here
reimplements library logic.
"""


def published_filters():
    """`(min_val_evr, max_train_loss, passes_filters)` of `gfr build-dataset`."""
    from training.build_dataset import MAX_TRAIN_LOSS, MIN_VAL_EVR, passes_filters

    return MIN_VAL_EVR, MAX_TRAIN_LOSS, passes_filters


def kernel_function():
    """`kernel(weights, decay_rates, steps)`: `k(t) = sum_i w_i (1 - lam_i)^t` over bins."""
    from training.fit_plots import kernel

    return kernel


def fit_data_functions():
    """`(activation_pairs, stimulus_groups)`: processed cells as padded population arrays."""
    from gfr_keras.fit_data import activation_pairs, stimulus_groups

    return activation_pairs, stimulus_groups


def allen_metadata():
    """The shipped Allen cell table (pandas DataFrame, one row per real cell)."""
    from gfr_keras.synthetic_cells import load_allen_metadata

    return load_allen_metadata()


def read_fit_files(folders):
    """The `gfr fit` result dicts in `folders` (each with its `_path`); bad JSON names the file."""
    from training.build_dataset import read_fits

    return read_fits(folders)

"""Processed cells as padded population arrays for fitting (one unit per cell).

Every cell's sweeps are grouped by stimulus; within a group, cells with fewer
or shorter sweeps are zero-padded, and a mask marks the real bins.
`published_padding_mask` is the mask of the published loss, which also counts
the zero padding of a cell's shorter sweeps (the fitting default,
`FitConfig.loss_on_padding`; docs/fidelity.md, F3); the padding that only
lines cells up in a population never counts.
"""

import numpy as np

from gfr_keras.ephys.binning import STIMULUS_NAMES


def stimulus_groups(cells, bin_size_ms):
    """Population arrays per stimulus at one bin size.

    Args:
        cells: list of processed cells (`gfr_keras.read_processed_cell` dicts).
        bin_size_ms: the bin size to take.

    Returns:
        dict `stimulus_name -> {"current_pa", "rate_per_ms", "mask"}`, each
        `[sweeps, time, units]` (float32; mask 1.0 on real bins), plus
        `"n_sweeps"` `[units]` and `"length"` `[units]` (bins of the unit's
        longest sweep). A stimulus no cell has is left out.
    """
    groups = {}
    for name in STIMULUS_NAMES:
        per_cell = [
            [sweep for _, sweep in sorted(cell["sweeps"].items()) if sweep["stimulus_name"] == name]
            for cell in cells
        ]
        if not any(per_cell):
            continue
        n_sweeps = np.array([len(s) for s in per_cell])
        lengths = np.array([max((len(w["rate_per_ms"][bin_size_ms]) for w in s), default=0) for s in per_cell])
        current, rate, mask = np.zeros((3, int(n_sweeps.max()), int(lengths.max()), len(cells)), np.float32)
        for unit, sweeps in enumerate(per_cell):
            for index, sweep in enumerate(sweeps):
                values = sweep["rate_per_ms"][bin_size_ms]
                current[index, : len(values), unit] = sweep["current_pa"][bin_size_ms]
                rate[index, : len(values), unit] = values
                mask[index, : len(values), unit] = 1.0
        groups[name] = {
            "current_pa": current,
            "rate_per_ms": rate,
            "mask": mask,
            "n_sweeps": n_sweeps,
            "length": lengths,
        }
    return groups


def published_padding_mask(group):
    """The bins the published `train_model` loss counts: `[sweeps, time, units]` float32.

    The published code pads one cell's sweeps of a stimulus to the longest of
    them (`pad_sequence`) and sums the loss over every bin, so the zeros after a
    shorter sweep count (zero current, zero spikes). Bins beyond the cell's own
    longest sweep or past its sweep count exist only in the population and stay out.
    """
    sweeps = np.arange(group["mask"].shape[0])[:, None, None] < group["n_sweeps"][None, None, :]
    bins = np.arange(group["mask"].shape[1])[None, :, None] < group["length"][None, None, :]
    return (sweeps & bins).astype(np.float32)


def activation_pairs(cells, activation_bin_size_ms):
    """The first bin after onset of every Long Square sweep: `(I, f)` pairs per cell.

    Returns:
        `(current_pa [pairs, units], rate_per_ms [pairs, units], mask [pairs, units])`.
    """
    per_cell = [
        [
            (sweep["current_pa"][activation_bin_size_ms][0], sweep["rate_per_ms"][activation_bin_size_ms][0])
            for _, sweep in sorted(cell["sweeps"].items())
            if sweep["stimulus_name"] == "Long Square" and len(sweep["current_pa"][activation_bin_size_ms])
        ]
        for cell in cells
    ]
    current, rate, mask = np.zeros((3, max(len(p) for p in per_cell), len(cells)), np.float32)
    for unit, pairs in enumerate(per_cell):
        for index, (i_pa, f) in enumerate(pairs):
            current[index, unit], rate[index, unit], mask[index, unit] = i_pa, f, 1.0
    return current, rate, mask

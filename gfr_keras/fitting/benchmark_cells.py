"""Benchmark cells: N processed cells in seconds, for throughput at database scale.

Each cell is a GFR neuron (threshold 40-150 pA, sigma 300 pA, gamma 0.1/ms,
slight adaptation through negative beta) driven by currents shaped like the
Allen stimuli, its observed rates Poisson spike counts of the model's rates.
The sweeps have the published batch shapes at 20 ms: Long Square 15 x 50 bins
(1 s), Ramp 3 x 400 (8 s), Noise 1 and Noise 2 3 x 1,100 (22 s). No GLIF
simulation, so N cells take seconds, not hours.

Several bin sizes (the processed format holds 10, 20, 50 and 100 ms) come from
ONE simulation at the finest bin: coarser bins are means of whole fine bins,
which is exactly what binning the spikes at the coarser size gives (the
current is a bin mean; `rate = count / B`, and counts add up). So every bin
size of a cell describes the same spike train, as in a real processed file.

Used by benchmarks/fit_throughput.py (20 ms only, in memory),
benchmarks/whole_database.py (files `gfr fit` reads), benchmarks/scan_ceiling.py
and tests/test_benchmark_cells.py. Synthetic through and through: these cells
never enter a dataset.
"""

import os

import numpy as np

#: Sweeps and duration (ms) of each stimulus: the published batch shapes at 20 ms.
STIMULUS_SWEEPS_MS = {"Long Square": (15, 1000), "Ramp": (3, 8000), "Noise 1": (3, 22000), "Noise 2": (3, 22000)}
MAX_FIRING_RATE_PER_MS = 0.1


def stimulus_currents(name, n_sweeps, length_bins, bin_size_ms, n_cells, rng):
    """`[sweeps, time, cells]` currents (pA) shaped like one Allen stimulus, at `bin_size_ms` bins.

    Long Square: a step on for the whole window (the processed window starts at
    the onset, so the first bin is the f-I pair the activation fit uses), 15
    amplitudes 20 pA apart from a per-cell 40-120 pA. Ramp: 25 pA/s from zero.
    Noise: a per-cell baseline times a slowly decaying random walk.
    """
    t_ms = np.arange(length_bins) * bin_size_ms
    if name == "Long Square":
        amplitude = 20.0 * np.arange(n_sweeps)[:, None, None] + rng.uniform(40, 120, (1, 1, n_cells))
        return np.broadcast_to(amplitude, (n_sweeps, length_bins, n_cells)).copy()
    if name == "Ramp":
        return np.broadcast_to((t_ms * 0.025)[None, :, None], (n_sweeps, length_bins, n_cells)).copy()
    base = rng.uniform(80, 200, (1, 1, n_cells))
    walk = rng.standard_normal((n_sweeps, length_bins, n_cells)).cumsum(1) / np.sqrt(1 + t_ms / 20.0)[None, :, None]
    return base * (1.0 + 0.5 * walk * np.sqrt(bin_size_ms / 20.0))  # the same walk size at any bin


def coarsen(values, factor):
    """Means of `factor` consecutive bins along axis 1 (`[sweeps, time, cells]`), whole bins only."""
    sweeps, length, cells = values.shape
    whole = length // factor
    return values[:, : whole * factor].reshape(sweeps, whole, factor, cells).mean(axis=2)


def _generative_layer(n_cells, bin_size_ms, rng):
    """One GFR layer holding `n_cells` random benchmark neurons at `bin_size_ms`, and their activations."""
    from gfr_keras.neurons.layer import GFR
    from gfr_keras.neurons.params import fresh_params

    params, activations = [], []
    for _ in range(n_cells):
        g = {"max_current": [300.0], "max_firing_rate": [MAX_FIRING_RATE_PER_MS], "poly_coeff": [[0.1, 1.0]],
             "b": [float(rng.uniform(40, 150))], "bin_size": 20}
        p = fresh_params(g, bin_size_ms)
        p["b"] = (-rng.uniform(0, 2e-3, np.shape(p["b"]))).tolist()  # adaptation: the rate lowers the traces
        params.append(p)
        activations.append({"g": g, "loss": 0.0, "status": "ok"})
    return GFR.from_params(params, return_sequences=True), activations


def simulate(n_cells, bin_sizes_ms=(20,), seed=0):
    """Stimulus arrays of `n_cells` benchmark cells at every bin size in `bin_sizes_ms`.

    Returns:
        `(arrays, activations)`: `arrays` is a dict `stimulus -> {bin_size_ms: (current_pa, rate_per_ms)}`,
        each `[sweeps, time, cells]` float32; `activations` the true activations as `fit_activations` results.
    """
    finest = min(bin_sizes_ms)
    if any(b % finest for b in bin_sizes_ms):
        raise ValueError(f"bin_sizes_ms: every size must be a multiple of the finest ({finest} ms), got {bin_sizes_ms}")
    rng = np.random.default_rng(seed)
    from gfr_keras.fitting.engine import compile_function

    layer, activations = _generative_layer(n_cells, finest, rng)
    forward = compile_function(lambda current: layer(current))  # TensorFlow's eager loop over 2,200 bins is slow
    arrays = {}
    for name, (n_sweeps, duration_ms) in STIMULUS_SWEEPS_MS.items():
        current = stimulus_currents(name, n_sweeps, duration_ms // finest, finest, n_cells, rng).astype("float32")
        rate = np.clip(np.asarray(forward(current)), 0, None)
        counts = rng.poisson(rate * finest)
        fine_rate = (counts / finest).astype("float32")
        arrays[name] = {b: (coarsen(current, b // finest), coarsen(fine_rate, b // finest)) for b in bin_sizes_ms}
    return arrays, activations


def benchmark_cells(n_cells, bin_sizes_ms=(20,), seed=0, first_id=1):
    """`n_cells` processed-cell dicts (the `read_processed_cell` layout) and their true activations."""
    arrays, activations = simulate(n_cells, bin_sizes_ms, seed)
    return cells_from_arrays(arrays, first_id), activations


def cells_from_arrays(arrays, first_id=1):
    """`simulate`'s arrays as processed-cell dicts, cell ids from `first_id`."""
    n_cells = next(iter(next(iter(arrays.values())).values()))[0].shape[-1]
    cells = []
    for unit in range(n_cells):
        sweeps, number = {}, 0
        for name, by_bin in arrays.items():
            for sweep in range(len(next(iter(by_bin.values()))[0])):
                sweeps[number] = {
                    "stimulus_name": name,
                    "current_pa": {b: current[sweep, :, unit] for b, (current, _) in by_bin.items()},
                    "rate_per_ms": {b: rate[sweep, :, unit] for b, (_, rate) in by_bin.items()},
                }
                number += 1
        cells.append({"cell_id": first_id + unit, "max_firing_rate_per_ms": MAX_FIRING_RATE_PER_MS,
                      "sampling_rate_hz": 10000.0, "species": "Mus musculus", "cre_line": "benchmark", "sweeps": sweeps})
    return cells


def write_benchmark_cells(folder, n_cells, bin_sizes_ms=(10, 20, 50, 100), seed=0, chunk_cells=2500, workers=1):
    """Write `n_cells` benchmark cells as processed files `folder/<cell_id>.h5` (ids 1..N).

    Cells are simulated `chunk_cells` at a time (bounded memory), chunk `k` with
    seed `[seed, k]`, so the files depend only on `n_cells`, `seed` and
    `chunk_cells`. With `workers > 1` the files are written by that many
    processes (HDF5 writes are CPU-bound and hold h5py's lock in one process).

    Returns:
        the paths written, in cell-id order.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    pool = _writer_pool(workers) if workers > 1 else None
    try:
        for chunk, start in enumerate(range(0, n_cells, chunk_cells)):
            cells, _ = benchmark_cells(min(chunk_cells, n_cells - start), bin_sizes_ms, [seed, chunk], first_id=1 + start)
            chunk_paths = [os.path.join(folder, f"{cell['cell_id']}.h5") for cell in cells]
            if pool is None:
                for cell, path in zip(cells, chunk_paths):
                    _write(cell, path)
            else:
                list(pool.map(_write, cells, chunk_paths, chunksize=16))
            paths += chunk_paths
    finally:
        if pool is not None:
            pool.shutdown()
    return paths


def _writer_pool(workers):
    """Fresh processes (spawned: the parent's JAX/TF threads must not be forked) kept off the accelerator."""
    import concurrent.futures
    import multiprocessing

    return concurrent.futures.ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_cpu_only)


def _cpu_only():
    os.environ["JAX_PLATFORMS"] = "cpu"  # importing gfr_keras imports Keras; no worker may claim GPU memory
    os.environ["CUDA_VISIBLE_DEVICES"] = ""


def _write(cell, path):
    from gfr_keras.ephys.processed import write_processed_cell

    write_processed_cell(cell, path)

"""`gfr synth-cells`: write an offline, CellTypesCache-compatible bank of synthetic cells."""

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
import multiprocessing

from tqdm import tqdm


def add_arguments(parser):
    parser.add_argument("--n", type=int, default=12, help="number of cells (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="which real cells, and the noise (default: %(default)s)")
    parser.add_argument("--out", required=True, help="cache folder (manifest.json, cells.json, specimen_<id>/)")
    parser.add_argument(
        "--sampling-rate", type=int, default=10_000, help="samples per second (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes; 1 simulates in this process (default: %(default)s)")


def _write_one(cache_dir, row, sampling_rate_hz, seed):
    from gfr_keras.ephys.synthetic import write_cell

    return write_cell(cache_dir, row, sampling_rate_hz, seed)


def run(args):
    from gfr_keras.ephys.synthetic import choose_cells, load_allen_metadata, write_cache_index

    if args.n < 1:
        raise ValueError(f"--n: expected a positive number of cells, got {args.n}")
    rows = [row.to_dict() for _, row in choose_cells(load_allen_metadata(), args.n, args.seed).iterrows()]
    manifest = write_cache_index(args.out, rows)
    todo = [row for row in rows if not os.path.exists(os.path.join(args.out, f"specimen_{int(row['specimen__id'])}", "ephys.nwb"))]
    started = time.perf_counter()
    if todo and args.workers <= 1:
        # In this process: no second TensorFlow import (e.g. one cell from a notebook).
        for row in tqdm(todo, desc="synth-cells", unit="cell"):
            _write_one(args.out, row, args.sampling_rate, args.seed)
    elif todo:
        # spawn: the workers must not inherit the parent's TensorFlow threads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, args.workers), mp_context=context) as pool:
            futures = [pool.submit(_write_one, args.out, row, args.sampling_rate, args.seed) for row in todo]
            for future in tqdm(as_completed(futures), total=len(futures), desc="synth-cells", unit="cell"):
                future.result()
    print(
        f"{len(rows)} cells in {args.out} ({len(rows) - len(todo)} already there, {len(todo)} simulated "
        f"in {time.perf_counter() - started:.0f} s); manifest: {manifest}"
    )
    for row in rows:
        species = row["donor__species"]
        line = row["line_name"] if isinstance(row["line_name"], str) else "-"
        print(f"  {int(row['specimen__id'])}  {species:<13} {line}")
    return 0

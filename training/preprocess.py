"""`gfr preprocess`: Allen recordings (through allensdk) to one processed HDF5 file per cell.

Resumable, failures isolated in `failures.csv`; see `gfr_keras.ephys.pipeline`.
"""

import os


def add_arguments(parser):
    parser.add_argument("--manifest", default="cell_types/manifest.json", help="CellTypesCache manifest (default: %(default)s)")
    parser.add_argument("--out", required=True, help="PROCESSED_DIR for <cell_id>.h5, failures.csv, cell_ids.csv")
    parser.add_argument("--cell-ids", help="CSV of cell ids (one per line, or a 'cell_id' column); default: every cell of the cache")
    parser.add_argument("--plots", action="store_true", help="also write PROCESSED_DIR/plots/<cell_id>.png")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes; 1 works in this process")
    parser.add_argument(
        "--max-rate-sweeps",
        choices=["all", "fitted"],
        default="all",
        help="sweeps whose spikes give the activation's gamma (max 1/ISI): every sweep of the file, as the "
        "published code (default), or only Long Square, Ramp and Noise 1/2",
    )
    parser.add_argument(
        "--unused-sweeps",
        choices=["ignore", "check"],
        default="ignore",
        help="sweeps the model does not use: ignore them (default), or check them as the published preprocessing "
        "does, which drops a cell whose sweep has a current that never changes or a spike past its end",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="let allensdk create a missing manifest and download the cell list and cells the cache lacks from the "
        "Allen Cell Types API (online); without it nothing is fetched or written into the cache, and a cell whose "
        "NWB file is not on disk fails ('not in the local cache', in failures.csv)",
    )


def _plot(plots_dir, cell):
    from gfr_keras.plots import plot_processed_cell

    plot_processed_cell(cell, os.path.join(plots_dir, f"{cell['cell_id']}.png"))


def run(args):
    import functools

    from gfr_keras.ephys.pipeline import preprocess_cells, read_cell_ids

    if args.workers < 1:
        raise ValueError(f"--workers: expected a positive number of processes, got {args.workers}")
    # A module-level function (not a lambda): the worker processes receive it pickled.
    on_cell = functools.partial(_plot, os.path.join(args.out, "plots")) if args.plots else None
    cell_ids = read_cell_ids(args.cell_ids) if args.cell_ids else None
    summary = preprocess_cells(
        args.manifest, args.out, cell_ids, keep_raw=args.plots, on_cell=on_cell, download=args.download,
        max_rate_sweeps=args.max_rate_sweeps, workers=args.workers, unused_sweeps=args.unused_sweeps,
    )
    done, skipped, failed, failures = summary["done"], summary["skipped"], summary["failed"], summary["failures"]
    missing_noise = sum(1 for c in failed if "Noise" in failures[c] and "missing stimulus" in failures[c])
    print(
        f"preprocess: {len(done) + len(skipped) + len(failed)} cells in {summary['seconds']:.1f} s: {len(done)} processed, "
        f"{len(skipped)} skipped (already done), {len(failed)} failed (see {summary['failures_path']})\n"
        f"  with Noise 1 and Noise 2: {len(done) + len(skipped)}; without Noise 1 or Noise 2: {missing_noise}"
    )
    return 0 if not failed or done or skipped else 1

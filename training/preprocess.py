"""`gfr preprocess`: recordings to one processed HDF5 file per cell.

Allen's NWB 1 files through allensdk (`--manifest`, a CellTypesCache), or NWB 2
files of any lab read with pynwb (`--nwb`; docs/fitting_your_recordings.md).
Resumable, failures isolated in `failures.csv`; see `gfr_keras.ephys.pipeline`
and `gfr_keras.ephys.nwb2_pipeline`.
"""

import os

from training import options

#: Library parameter -> flag, where the flag is not the parameter's name with dashes.
FLAGS = {"manifest_path": "--manifest", "out_dir": "--out"}


def add_arguments(parser):
    parser.add_argument("--manifest", default="cell_types/manifest.json", help="CellTypesCache manifest (default: %(default)s)")
    parser.add_argument("--out", required=True, help="PROCESSED_DIR for <cell_id>.h5, failures.csv, cell_ids.csv")
    parser.add_argument("--cell-ids", help="CSV of cell ids (one per line, or a 'cell_id' column); default: every cell of the cache")
    parser.add_argument("--plots", action="store_true", help="also write PROCESSED_DIR/plots/<cell_id>.png")
    parser.add_argument("--workers", type=options.positive_int, default=min(2, os.cpu_count() or 1), help="processes; 1 works in this process")
    options.add_mode(
        parser, "--max-rate-sweeps", ("all", "fitted"),
        "sweeps whose spikes give the activation's gamma (max 1/ISI): every sweep of the file, as the "
        "published code (default), or only Long Square, Ramp and Noise 1/2",
    )
    options.add_mode(
        parser, "--unused-sweeps", ("ignore", "check"),
        "sweeps the model does not use: ignore them (default), or check them as the published preprocessing "
        "does, which drops a cell whose sweep has a current that never changes or a spike past its end",
    )
    parser.add_argument(
        "--nwb", nargs="+", metavar="PATH",
        help="NWB 2 files, or folders of them (searched recursively), instead of a CellTypesCache (--manifest)",
    )
    parser.add_argument(
        "--stimulus-map", metavar="FILE",
        help="with --nwb: JSON object of stimulus name or pattern (glob, or 're:' regular expression) -> role, "
        "for names the built-in tables do not know (docs/fitting_your_recordings.md)",
    )
    parser.add_argument("--cell-id", type=options.cell_id, help="with --nwb and one file: its cell id (default: from the file)")
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

    if args.nwb:
        from training.preprocess_nwb import run_nwb

        return run_nwb(args)
    if args.stimulus_map or args.cell_id is not None:
        raise ValueError("--stimulus-map and --cell-id go with --nwb (NWB 2 files)")
    # A module-level function (not a lambda): the worker processes receive it pickled.
    on_cell = functools.partial(_plot, os.path.join(args.out, "plots")) if args.plots else None
    cell_ids = read_cell_ids(args.cell_ids) if args.cell_ids else None
    summary = preprocess_cells(
        args.manifest, args.out, cell_ids, keep_raw=args.plots, on_cell=on_cell, download=args.download,
        max_rate_sweeps=args.max_rate_sweeps, workers=args.workers, unused_sweeps=args.unused_sweeps,
    )
    done, skipped, failed = summary["done"], summary["skipped"], summary["failed"]
    missing_noise = sum(1 for kind in summary["failure_kinds"].values() if kind == "missing_noise_stimulus")
    where = f" (see {summary['failures_path']})" if failed and summary["failures_path"] else ""
    print(
        f"preprocess: {len(done) + len(skipped) + len(failed)} cells in {summary['seconds']:.1f} s: {len(done)} processed, "
        f"{len(skipped)} skipped (already done), {len(failed)} failed{where}\n"
        f"  with Noise 1 and Noise 2: {len(done) + len(skipped)}; without Noise 1 or Noise 2: {missing_noise}"
    )
    not_cached = sum(1 for kind in summary["failure_kinds"].values() if kind == "not_in_cache")
    if not_cached:
        print(f"  {not_cached} cells are not in the local cache: --download fetches them (online)")
    refuse_when_no_cell_processed(summary, args.manifest)
    return 0


def refuse_when_no_cell_processed(summary, path):
    """Every cell failed: the input's fault, not a bug, so an `InputError` (exit 2 with the other user errors)."""
    if summary["failed"] and not (summary["done"] or summary["skipped"]):
        from gfr_keras.errors import InputError

        raise InputError(f"no cell could be processed: all {len(summary['failed'])} failed (the reasons: "
                         f"{summary['failures_path']})", path=path, reason="no_cell_processed")

"""`gfr fit`: fit GFR neurons to processed cells, a chunk of cells at a time (see `gfr_keras.fitting.pipeline`)."""

import os


def add_arguments(parser):
    parser.add_argument("--processed", required=True, help="PROCESSED_DIR with <cell_id>.h5 files")
    parser.add_argument("--bin-size", type=int, required=True, help="model bin size, ms (10, 20, 50, 100)")
    parser.add_argument("--activation-bin-size", type=int, required=True, help="activation bin size, ms (20, 100)")
    parser.add_argument("--degree", type=int, default=1, help="activation polynomial degree (default: %(default)s)")
    parser.add_argument("--C", type=float, default=0.0, help="L1 penalty on alpha and beta (default: %(default)s)")
    parser.add_argument(
        "--config", default="default",
        help="training protocol: a packaged config (default, test) or a JSON file (default: %(default)s)",
    )
    parser.add_argument("--out", required=True, help="FITS_DIR for <cell_id>.json files and failures.csv")
    parser.add_argument("--chunk-size", type=int, default=200, help="cells fitted together (default: %(default)s)")
    parser.add_argument("--shard", default="0/1", help="i/n: fit cells i, i+n, i+2n, ... of the sorted list (default: %(default)s)")
    parser.add_argument(
        "--plot-cells", nargs="*", type=int, default=[], metavar="CELL_ID",
        help="also draw these cells' fits (f-I curve, kernels, Noise 2) into FITS_DIR/plots/",
    )


def run(args):
    from gfr_keras.fitting.config import load_fit_config
    from gfr_keras.fitting.pipeline import fit_folder, parse_shard

    shard = parse_shard(args.shard)
    config = load_fit_config(args.config)
    print(f"fit ({args.bin_size}, {args.activation_bin_size}) ms, config {config.config_name}, shard {shard[0]}/{shard[1]}")
    summary = fit_folder(
        args.processed, args.out, args.bin_size, args.activation_bin_size, config, args.degree, args.C,
        args.chunk_size, shard,
    )
    _figures(args)
    results, failures = summary["results"], summary["failures"]
    failed = {c: r["failure_reason"] for c, r in results.items() if r["status"] != "ok"}
    print(
        f"fit: {len(results)} cells fitted in {summary['seconds']:.1f} s ({summary['already_done']} already fitted), "
        f"{len(failed)} failed" + "".join(f"\n  cell {c}: {s}" for c, s in sorted(failed.items()))
    )
    if failures:
        print(f"{len(failures)} cell(s) could not be read, see {summary['failures_path']}")
    return 0


def _figures(args):
    from gfr_keras.dataset.fits import is_ok, read_fits
    from gfr_keras.ephys.processed import read_processed_cell
    from gfr_keras.plots import plot_cell_fit, plot_evr_histogram

    configuration = (args.bin_size, args.activation_bin_size)
    fits = [f for f in read_fits([args.out]) if (f["bin_size"], f["actv_bin_size"]) == configuration]
    if fits:
        path = os.path.join(args.out, "evr_histogram.png")
        plot_evr_histogram(fits, path, f"configuration ({args.bin_size}, {args.activation_bin_size}) ms")
        print(f"EVR histogram: {path}")
    by_id = {f["cell_id"]: f for f in fits}
    for cell_id in args.plot_cells:
        if cell_id not in by_id or not is_ok(by_id[cell_id]):
            raise ValueError(f"--plot-cells: cell {cell_id} has no successful fit in {args.out}")
        cell = read_processed_cell(os.path.join(args.processed, f"{cell_id}.h5"))
        path = os.path.join(args.out, "plots", f"{cell_id}.png")
        plot_cell_fit(by_id[cell_id], cell, path)
        print(f"cell {cell_id}: {path}")

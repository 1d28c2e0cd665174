"""`gfr fit`: fit GFR neurons to processed cells, a chunk of cells at a time (see `gfr_keras.fitting.pipeline`).

One configuration (`--bin-size`, `--activation-bin-size`), or several in one process
(`--configurations all`, with `{bin}` and `{actv}` in `--out`), which saves starting
TensorFlow once per configuration.
"""

import dataclasses
import functools
import os

from training import options

#: The activation polynomial's degree: 0 would make g constant (no dependence on the current);
#: the published default is 1, and higher degrees than 10 overflow `x**k` for currents beyond sigma.
MAX_DEGREE = 10
#: Library parameter -> flag, where the flag is not the parameter's name with dashes.
FLAGS = {
    "processed_dir": "--processed", "out_dir": "--out", "folders": "--out", "name_or_path": "--config",
    "bin_size_ms": "--bin-size", "activation_bin_size_ms": "--activation-bin-size", "configuration": "--configurations",
}


def add_arguments(parser):
    parser.add_argument("--processed", required=True, help="PROCESSED_DIR with <cell_id>.h5 files")
    parser.add_argument("--bin-size", type=options.positive_int, help="model bin size, ms (10, 20, 50, 100)")
    parser.add_argument("--activation-bin-size", type=options.positive_int, help="activation bin size, ms (20, 100)")
    parser.add_argument(
        "--configurations", nargs="+", metavar="BIN,ACTV",
        help="instead of the two sizes: several configurations in ms (e.g. 20,20 50,100), or 'all' for the six",
    )
    parser.add_argument(
        "--degree", type=options.number(int, minimum=1, maximum=MAX_DEGREE), default=1,
        help=f"activation polynomial degree, 1 to {MAX_DEGREE}",
    )
    parser.add_argument("--C", type=options.non_negative_float, default=0.0, help="penalty on alpha and beta (L1; config key penalty: l0 = the published count, which never acts)")
    parser.add_argument("--config", default="default", help="fit config: a packaged one (default, test) or a JSON file in the published layout")
    parser.add_argument(
        "--mask-padding", action="store_true",
        help="leave the zero padding of a cell's shorter sweeps out of its loss (the published code, and the default, "
        "count it; config key loss_on_padding: false)",
    )
    parser.add_argument(
        "--retrain", action="store_true",
        help="refit cells that have a fit (keeping their g); a fit is replaced only when its validation EVR improves "
        "(config key retrain_model, the published default)",
    )
    parser.add_argument(
        "--finetune", action="store_true", help="with --retrain: start from the saved alpha and beta (config key finetune)"
    )
    parser.add_argument(
        "--out", required=True,
        help="FITS_DIR for <cell_id>.json files and failures.csv; with --configurations it must hold {bin} and {actv}. "
        "FITS_DIR/gfr_settings.json records the settings the fits depend on (configuration, --degree, --C, the "
        "config's values, --mask-padding): a rerun with the same settings fits only the cells without a fit file, "
        "one with other settings stops before any work (use another --out, or delete the folder)",
    )
    parser.add_argument("--chunk-size", type=options.positive_int, default=200, help="cells fitted together")
    parser.add_argument("--shard", default="0/1", help="i/n: fit cells i, i+n, i+2n, ... of the sorted list")
    parser.add_argument(
        "--plot-cells", nargs="*", type=options.cell_id, default=[], metavar="CELL_ID",
        help="also draw these cells' fits (f-I curve, kernels, Noise 2) into FITS_DIR/plots/",
    )
    parser.add_argument("--plot-best", type=options.non_negative_int, default=0, metavar="N", help="also draw the fits of the N cells with the best test EVR")


def _configurations(args):
    """The (bin, actv) pairs asked for, and the output folder of each."""
    if args.configurations:
        if args.bin_size or args.activation_bin_size:
            raise options.usage_error("configurations", "give it or --bin-size/--activation-bin-size, not both")
        if "{bin}" not in args.out or "{actv}" not in args.out:
            raise options.usage_error("out", f"with --configurations it must hold {{bin}} and {{actv}}, got {args.out!r}")
        from gfr_keras.neurons.timescales import CONFIGURATIONS, parse_configuration

        pairs = CONFIGURATIONS if args.configurations == ["all"] else [parse_configuration(c) for c in args.configurations]
        try:
            return [(b, a, args.out.format(bin=b, actv=a)) for b, a in pairs]
        except (KeyError, IndexError, ValueError):
            raise options.usage_error("out", f"only {{bin}} and {{actv}} may be in braces, got {args.out!r}") from None
    if args.bin_size is None or args.activation_bin_size is None:
        raise options.usage_error("bin_size", "--bin-size and --activation-bin-size (or --configurations) are required")
    return [(args.bin_size, args.activation_bin_size, args.out)]


def _check_plot_cells(args):
    """Before the fit: every `--plot-cells` cell has a processed file (its fit is checked after)."""
    from gfr_keras.fitting.pipeline import processed_paths

    present = {int(os.path.basename(p)[:-3]) for p in processed_paths(args.processed)}
    absent = [c for c in args.plot_cells if c not in present]
    if absent:
        raise options.usage_error("plot_cells", f"no processed file for cell(s) {absent} in {args.processed}")


def run(args):
    from gfr_keras.ephys.processed import read_processed_cell
    from gfr_keras.fitting.config import load_fit_config
    from gfr_keras.fitting.pipeline import check_fit_folder, fit_folder, fit_folder_settings, parse_shard

    shard = parse_shard(args.shard)
    configurations = _configurations(args)
    config = load_fit_config(args.config)
    overrides = {"retrain_model": True} if args.retrain else {}
    overrides.update({"finetune": True} if args.finetune else {})
    overrides.update({"loss_on_padding": False} if args.mask_padding else {})
    config = dataclasses.replace(config, **overrides)
    if args.finetune and not config.retrain_model:
        raise options.usage_error("finetune", "it starts refits from saved fits, so it needs --retrain (config key retrain_model)")
    _check_plot_cells(args)
    # Every configuration reads the same files (all bin sizes are in each): read each once.
    # Held in memory for the whole run: about 1 MB per cell; shard larger databases.
    for bin_size, actv, out in configurations:  # every folder before any work: a refusal costs nothing
        check_fit_folder(out, fit_folder_settings(bin_size, actv, config, degree=args.degree, C=args.C))
    read_cell = functools.lru_cache(maxsize=None)(read_processed_cell) if len(configurations) > 1 else read_processed_cell
    for bin_size, actv, out in configurations:
        print(f"fit ({bin_size}, {actv}) ms, config {config.config_name}, shard {shard[0]}/{shard[1]} -> {out}")
        summary = fit_folder(
            args.processed, out, bin_size, actv, config, degree=args.degree, C=args.C, chunk_size=args.chunk_size,
            shard=shard, read_cell=read_cell,
        )
        if summary["settings_note"]:
            print(summary["settings_note"])
        _figures(args, bin_size, actv, out)
        results, failures = summary["results"], summary["failures"]
        failed = {c: r["failure_reason"] for c, r in results.items() if r["status"] != "ok"}
        print(
            f"fit: {len(results)} cells fitted in {summary['seconds']:.1f} s ({summary['already_done']} already fitted), "
            f"{len(failed)} failed" + (f", {len(summary['kept'])} kept their better saved fit" if summary["kept"] else "")
            + "".join(f"\n  cell {c}: {s}" for c, s in sorted(failed.items()))
        )
        if failures:
            print(f"{len(failures)} cell(s) could not be read, see {summary['failures_path']}")
    return 0


def _figures(args, bin_size, actv, out):
    from gfr_keras.dataset.fits import is_ok, read_fits
    from gfr_keras.ephys.processed import read_processed_cell
    from gfr_keras.plots import plot_cell_fit, plot_evr_histogram

    fits = [f for f in read_fits([out]) if (f["bin_size"], f["actv_bin_size"]) == (bin_size, actv)]
    if fits:
        path = os.path.join(out, "evr_histogram.png")
        plot_evr_histogram(fits, path, f"configuration ({bin_size}, {actv}) ms")
        print(f"EVR histogram: {path}")
    by_id = {f["cell_id"]: f for f in fits}
    best = sorted((f for f in fits if is_ok(f) and f.get("test_evr") is not None), key=lambda f: -f["test_evr"])
    for cell_id in [*args.plot_cells, *[f["cell_id"] for f in best[: args.plot_best]]]:
        if cell_id not in by_id or not is_ok(by_id[cell_id]):
            raise options.usage_error("plot_cells", f"cell {cell_id} has no successful fit in {out}")
        cell = read_processed_cell(os.path.join(args.processed, f"{cell_id}.h5"))
        path = os.path.join(out, "plots", f"{cell_id}.png")
        plot_cell_fit(by_id[cell_id], cell, path)
        print(f"cell {cell_id}: {path}")

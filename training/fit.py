"""`gfr fit`: fit GFR neurons to processed cells, a chunk of cells at a time.

Writes one JSON file per cell, `FITS_DIR/<cell_id>.json` (params, EVRs, loss
curves, status), atomically; a rerun skips cells already written, so a killed
run resumes with the chunk it was in. `--shard i/n` fits every n-th cell
(deterministic), so several machines can share a configuration.
"""

import json
import os
import time

from tqdm import tqdm

from gfr_keras.io_utils import write_json_atomic

_CONFIG_KEYS = ("activation_epochs", "activation_repeats", "hparams")


def add_arguments(parser):
    parser.add_argument("--processed", required=True, help="PROCESSED_DIR with <cell_id>.h5 files")
    parser.add_argument("--bin-size", type=int, required=True, help="model bin size, ms (10, 20, 50, 100)")
    parser.add_argument("--activation-bin-size", type=int, required=True, help="activation bin size, ms (20, 100)")
    parser.add_argument("--degree", type=int, default=1, help="activation polynomial degree (default: %(default)s)")
    parser.add_argument("--C", type=float, default=0.0, help="L1 penalty on alpha and beta (default: %(default)s)")
    parser.add_argument("--config", default="configs/default.json", help="training protocol (default: %(default)s)")
    parser.add_argument("--out", required=True, help="FITS_DIR for <cell_id>.json files")
    parser.add_argument("--chunk-size", type=int, default=200, help="cells fitted together (default: %(default)s)")
    parser.add_argument("--shard", default="0/1", help="i/n: fit cells i, i+n, i+2n, ... of the sorted list")
    parser.add_argument(
        "--plot-cells", nargs="*", type=int, default=[], metavar="CELL_ID",
        help="also draw these cells' fits (f-I curve, kernels, Noise 2) into FITS_DIR/plots/",
    )


def parse_shard(text):
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard: expected i/n such as 0/4, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard: expected 0 <= i < n, got {text!r}")
    return index, count


def load_config(path):
    try:
        with open(path) as handle:
            config = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    missing = [key for key in _CONFIG_KEYS if key not in config]
    if missing:
        raise ValueError(f"{path}: missing field(s) {missing}")
    for index, run in enumerate(config["hparams"]):
        if not isinstance(run, dict) or "lr" not in run or "epochs" not in run:
            raise ValueError(f"{path}: field 'hparams[{index}]': expected {{'lr': ..., 'epochs': ...}}, got {run!r}")
    return config


def _jsonable(result):
    clean = {}
    for key, value in result.items():
        if isinstance(value, float) and value != value:
            value = None  # NaN is not JSON
        clean[key] = value
    return clean


def run(args):
    from gfr_keras.fitting import fit_cells
    from gfr_keras.processed import read_processed_cell
    from gfr_keras.timescales import CONFIGURATIONS

    if (args.bin_size, args.activation_bin_size) not in CONFIGURATIONS:
        raise ValueError(
            f"--bin-size/--activation-bin-size: expected one of {[list(c) for c in CONFIGURATIONS]}, "
            f"got [{args.bin_size}, {args.activation_bin_size}]"
        )
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size: expected a positive number, got {args.chunk_size}")
    index, count = parse_shard(args.shard)
    config = load_config(args.config)
    if not os.path.isdir(args.processed):
        raise FileNotFoundError(f"--processed: {args.processed} is not a folder")
    paths = sorted(
        (p for p in os.listdir(args.processed) if p.endswith(".h5") and p[:-3].isdigit()), key=lambda p: int(p[:-3])
    )[index::count]
    os.makedirs(args.out, exist_ok=True)
    todo = [p for p in paths if not os.path.exists(os.path.join(args.out, p[:-3] + ".json"))]
    print(
        f"fit ({args.bin_size}, {args.activation_bin_size}) ms, config {config.get('config_name', args.config)}: "
        f"{len(paths)} cells in shard {index}/{count}, {len(paths) - len(todo)} already fitted"
    )
    started = time.perf_counter()
    progress = tqdm(total=len(todo), desc="fit", unit="cell")
    statuses = {}
    for start in range(0, len(todo), args.chunk_size):
        chunk = todo[start : start + args.chunk_size]
        cells = [read_processed_cell(os.path.join(args.processed, p)) for p in chunk]
        results = fit_cells(cells, args.bin_size, args.activation_bin_size, args.degree, args.C, config)
        for cell, result in zip(cells, results):
            record = {
                "cell_id": cell["cell_id"],
                "cre_line": cell["cre_line"],
                "species": cell["species"],
                "bin_size": args.bin_size,
                "actv_bin_size": args.activation_bin_size,
                "degree": args.degree,
                "C": args.C,
                "config": config.get("config_name", os.path.basename(args.config)),
                **result,
            }
            write_json_atomic(_jsonable(record), os.path.join(args.out, f"{cell['cell_id']}.json"))
            statuses[cell["cell_id"]] = result["status"]
        progress.update(len(chunk))
        progress.set_postfix(cells_per_s=f"{progress.n / (time.perf_counter() - started):.2f}")
    progress.close()
    _figures(args)
    failed = {c: s for c, s in statuses.items() if s != "ok"}
    print(
        f"fit: {len(statuses)} cells fitted in {time.perf_counter() - started:.1f} s, {len(failed)} failed"
        + "".join(f"\n  cell {c}: {s}" for c, s in sorted(failed.items()))
    )
    return 0


def _figures(args):
    from gfr_keras.processed import read_processed_cell
    from training.build_dataset import read_fits
    from training.fit_plots import plot_cell_fit, plot_evr_histogram

    fits = [f for f in read_fits([args.out]) if (f["bin_size"], f["actv_bin_size"]) == (args.bin_size, args.activation_bin_size)]
    if fits:
        path = os.path.join(args.out, "evr_histogram.png")
        plot_evr_histogram(fits, path, f"configuration ({args.bin_size}, {args.activation_bin_size}) ms")
        print(f"EVR histogram: {path}")
    by_id = {f["cell_id"]: f for f in fits}
    for cell_id in args.plot_cells:
        if cell_id not in by_id or by_id[cell_id].get("status") != "ok":
            raise ValueError(f"--plot-cells: cell {cell_id} has no successful fit in {args.out}")
        cell = read_processed_cell(os.path.join(args.processed, f"{cell_id}.h5"))
        path = os.path.join(args.out, "plots", f"{cell_id}.png")
        plot_cell_fit(by_id[cell_id], cell, path)
        print(f"cell {cell_id}: {path}")

"""The whole database, timed: `gfr fit`'s pipeline on N benchmark cells at all six configurations.

Writes N benchmark cells (gfr_keras/fitting/benchmark_cells.py: GFR-generated Poisson spike
trains with the published batch shapes, simulated at 10 ms and binned at 10,
20, 50 and 100 ms) as processed files, then fits them with the function `gfr
fit --configurations all` calls (`gfr_keras.fitting.pipeline.fit_folder`: read
the files, activation fit, neuron fit, one JSON per cell), one configuration
after the other in one process, with the full protocol of the config (default:
the published one, 1,000 activation epochs x 3 restarts, 3 learning rates x
200 epochs). Wall time is measured per configuration and in total; a sample of
the files is read once more on its own to say how much of it is reading.

Results go to `--out/whole_database.json` and `.md`, rewritten after every
configuration (so a run cut short keeps what it measured).

    KERAS_BACKEND=jax python benchmarks/whole_database.py                     # 2,333 cells, everything
    KERAS_BACKEND=jax python benchmarks/whole_database.py --cells 30 --epochs 3 --activation-epochs 20
    uv run python benchmarks/whole_database.py --cells 30 --epochs 3          # TensorFlow
"""

import argparse
import dataclasses
import importlib.abc
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from gfr_keras.fitting.benchmark_cells import write_benchmark_cells

READ_SAMPLE_CELLS = 200


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """Refuses to import TensorFlow: proves a JAX run needs none (the GPU machines have none)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "tf_keras"):
            raise ImportError(f"{name}: blocked by --no-tensorflow (this run must not need TensorFlow)")
        return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=2333, help="benchmark cells (default: %(default)s, the database)")
    parser.add_argument("--out", default="runs/whole_database", help="folder for processed/, fits_*/ and the results")
    parser.add_argument("--config", default="default", help="fit protocol: packaged name or JSON file (default: %(default)s)")
    parser.add_argument("--epochs", type=int, help="override every learning-rate run's epochs (quick checks)")
    parser.add_argument("--activation-epochs", type=int, help="override the activation fit's epochs (quick checks)")
    parser.add_argument("--configurations", nargs="+", default=["all"], metavar="BIN,ACTV", help="default: all six")
    parser.add_argument("--chunk-size", type=int, help="cells per population (default: all cells, one population)")
    parser.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)),
                        help="processes writing the files (default: %(default)s, half the CPUs up to 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tensorflow", action="store_true", help="fail if anything imports TensorFlow")
    return parser.parse_args(argv)


def fit_config(args):
    from gfr_keras.fitting.config import load_fit_config

    config = load_fit_config(args.config)
    if args.epochs:
        config = dataclasses.replace(config, hparams=tuple(dataclasses.replace(r, epochs=args.epochs) for r in config.hparams))
    if args.activation_epochs:
        config = dataclasses.replace(config, activation_epochs=args.activation_epochs)
    return config


def make_cells(folder, n_cells, seed, workers):
    """The processed files, written unless the folder already holds exactly these N cells."""
    names = {f"{i}.h5" for i in range(1, n_cells + 1)}
    present = {p for p in os.listdir(folder) if p.endswith(".h5")} if os.path.isdir(folder) else set()
    if present == names:
        return sorted(os.path.join(folder, p) for p in present), None
    if present:
        raise FileExistsError(f"{folder}: holds {len(present)} other processed files; give a fresh --out")
    started = time.perf_counter()
    paths = write_benchmark_cells(folder, n_cells, seed=seed, workers=workers)
    return paths, time.perf_counter() - started


def reading_seconds(paths):
    """Seconds to read every file once (`read_processed_cell`), from a timed sample."""
    from gfr_keras.ephys.processed import read_processed_cell

    sample = paths[:: max(1, len(paths) // READ_SAMPLE_CELLS)][:READ_SAMPLE_CELLS]
    started = time.perf_counter()
    for path in sample:
        read_processed_cell(path)
    return (time.perf_counter() - started) * len(paths) / len(sample)


def summary_row(bin_size, actv, summary):
    results = summary["results"].values()
    ok = [r for r in results if r["status"] == "ok"]
    finite = lambda key: [r[key] for r in ok if r.get(key) is not None and np.isfinite(r[key])]
    median = lambda values: float(np.median(values)) if values else None
    return {
        "configuration": [bin_size, actv],
        "seconds": summary["seconds"],
        "cells_fitted": len(results),
        "cells_ok": len(ok),
        "cells_unreadable": len(summary["failures"]),
        "median_val_evr": median(finite("val_evr")),
        "median_test_evr": median(finite("test_evr")),
        "median_epochs": median([r["epochs"] for r in ok]),
    }


def markdown(record):
    lines = [
        f"{record['cells']} benchmark cells, config {record['config']['config_name']} "
        f"(activation {record['config']['activation_epochs']} epochs x {record['config']['activation_repeats']}, "
        f"runs {[(r['lr'], r['epochs']) for r in record['config']['hparams']]}), chunk {record['chunk_size']}; "
        f"{record['machine']}",
        f"writing the files: {_seconds(record['write_seconds'])}; reading them once: {_seconds(record['read_seconds'])} "
        "(from a sample; every configuration reads them once)",
        "",
        "| configuration (bin, actv) ms | wall time (s) | cells ok / fitted | median val EVR | median test EVR | median epochs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in record["configurations"]:
        evr = lambda v: "-" if v is None else f"{v:.3f}"
        lines.append(f"| ({row['configuration'][0]}, {row['configuration'][1]}) | {row['seconds']:.1f} | "
                     f"{row['cells_ok']} / {row['cells_fitted']} | {evr(row['median_val_evr'])} | "
                     f"{evr(row['median_test_evr'])} | {row['median_epochs']} |")
    lines.append(f"| **all {len(record['configurations'])}** | **{record['fit_seconds']:.1f}** | | | | |")
    return "\n".join(lines) + "\n"


def _seconds(value):
    return "reused" if value is None else f"{value:.1f} s"


def machine():
    import keras

    backend = keras.backend.backend()
    version = __import__(backend).__version__
    devices = ""
    if backend == "jax":
        import jax

        devices = ", devices " + ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return f"Keras {keras.__version__}, {backend} {version}{devices}, {platform.machine()}, {os.cpu_count()} CPUs"


def main(argv=None):
    args = parse_args(argv)
    if args.no_tensorflow:
        sys.meta_path.insert(0, _NoTensorFlow())
    from gfr_keras.fitting.pipeline import fit_folder
    from gfr_keras.io_utils import atomic_path, write_json_atomic
    from gfr_keras.neurons.timescales import CONFIGURATIONS, parse_configuration

    config = fit_config(args)
    pairs = CONFIGURATIONS if args.configurations == ["all"] else [parse_configuration(c) for c in args.configurations]
    for bin_size, actv in pairs:
        out = os.path.join(args.out, f"fits_{bin_size}_{actv}")
        if os.path.isdir(out) and any(p.endswith(".json") for p in os.listdir(out)):
            raise FileExistsError(f"{out}: holds fits already (gfr fit would skip those cells); give a fresh --out")
    processed = os.path.join(args.out, "processed")
    paths, write_seconds = make_cells(processed, args.cells, args.seed, args.workers)
    record = {"cells": args.cells, "config": config.to_dict(), "chunk_size": args.chunk_size or args.cells,
              "machine": machine(), "write_seconds": write_seconds, "read_seconds": reading_seconds(paths),
              "configurations": [], "fit_seconds": 0.0, "tensorflow_imported": False}
    print("\n".join(markdown(record).splitlines()[:2]), flush=True)  # the cells and the file times; rows follow
    for bin_size, actv in pairs:
        out = os.path.join(args.out, f"fits_{bin_size}_{actv}")
        summary = fit_folder(processed, out, bin_size, actv, config, chunk_size=record["chunk_size"])
        record["configurations"].append(summary_row(bin_size, actv, summary))
        record["fit_seconds"] = sum(row["seconds"] for row in record["configurations"])
        record["tensorflow_imported"] = "tensorflow" in sys.modules
        write_json_atomic(record, os.path.join(args.out, "whole_database.json"), indent=1)
        with atomic_path(os.path.join(args.out, "whole_database.md")) as tmp, open(tmp, "w") as handle:
            handle.write(markdown(record))
        print(markdown(record).splitlines()[-2], flush=True)
    print("\n" + markdown(record) + f"TensorFlow imported: {record['tensorflow_imported']}")


if __name__ == "__main__":
    main()

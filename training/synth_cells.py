"""`gfr synth-cells`: write an offline, CellTypesCache-compatible bank of synthetic cells.

`--model spiking` (default): integrate-and-fire cells with real action potentials,
calibrated per cell to the source cell's Allen features, recorded at 50 kHz with
Allen's stimulus set (Short Square included), so allensdk's feature extractor runs
on them. `--model glif`: allensdk's GLIF cells at 10 kHz (the bank of an earlier
shipped dataset). `--per-line` takes several cells of every mouse cre line.

The folder records the bank's settings and files (gfr_settings.json, see
`gfr_keras.ephys.bank_folder`): a rerun with the same settings resumes (cells
already written are kept, the others simulated); other settings are refused,
or with `--replace` the old bank's files are deleted first (a folder holding
files the bank did not write is never replaced).
"""

import os
import time

from training import options

_MODULES = {"spiking": "gfr_keras.ephys.spiking_bank", "glif": "gfr_keras.ephys.synthetic"}
_DEFAULT_RATE_HZ = {"spiking": 50_000, "glif": 10_000}
#: Slowest sampling rate of each model (Hz): allensdk's feature extractor filters spiking recordings at
#: 10 kHz, which needs more than 20 kHz; the GLIF bank was made at 10 kHz, and slower rates leave
#: spikes a single sample wide. Allen's own recordings are 50 to 200 kHz.
_MIN_RATE_HZ = {"spiking": 20_001, "glif": 10_000}
_MAX_RATE_HZ = 200_000


def add_arguments(parser):
    parser.add_argument("--n", type=options.positive_int, default=12, help="number of cells")
    parser.add_argument("--seed", type=options.seed, default=0, help="which real cells, and the noise")
    parser.add_argument(
        "--out", required=True,
        help="cache folder (manifest.json, cells.json, specimen_<id>/, gfr_settings.json). The same settings again "
        "resume the bank; other settings (--n, --seed, --per-line, --model, --sampling-rate) are refused unless --replace",
    )
    parser.add_argument(
        "--replace", action="store_true",
        help="an existing bank with other settings in --out: delete its files (only those it wrote; a folder with "
        "other files is refused) and write the new bank",
    )
    parser.add_argument(
        "--per-line", type=options.positive_int, default=1, help="mouse cells of each transgenic line chosen first (all a line has if fewer)"
    )
    parser.add_argument("--model", choices=sorted(_MODULES), default="spiking", help="the cells' neuron model (see above)")
    parser.add_argument(
        "--sampling-rate", type=options.number(int, minimum=min(_MIN_RATE_HZ.values()), maximum=_MAX_RATE_HZ),
        help="samples per second (default: 50000 for spiking, which needs > 20000 for Allen's feature extractor; "
        "10000 for glif; at most 200000)",
    )
    parser.add_argument("--batch", type=options.positive_int, default=8, help="spiking: cells simulated together, all sweeps at once")
    parser.add_argument("--workers", type=options.positive_int, default=min(2, os.cpu_count() or 1), help="processes; 1 simulates in this process")
    parser.add_argument(
        "--format", choices=["nwb1", "nwb2", "both"], default="nwb1",
        help="spiking: the recordings as the cache's NWB 1 files (specimen_<id>/ephys.nwb, read by --manifest), "
        "NWB 2 files (nwb2/<id>.nwb, read by `gfr preprocess --nwb`), or both",
    )


def _write_batch(model, cache_dir, rows, sampling_rate_hz, seed, formats=("nwb1",)):
    import importlib

    module = importlib.import_module(_MODULES[model])  # numpy, h5py and allensdk: no TensorFlow
    if model == "spiking":
        return module.write_cells(cache_dir, rows, sampling_rate_hz, seed, formats=formats)
    return [module.write_cell(cache_dir, row, sampling_rate_hz, seed) for row in rows]


def _batches(rows, batch, workers):
    """Rows in batches of at most `batch`, at least one batch per worker."""
    size = max(1, min(batch, -(-len(rows) // max(1, workers))))
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _simulate(args, todo, rate):
    import multiprocessing  # imported here: `gfr --help` loads every stage's module
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    batches = _batches(todo, args.batch if args.model == "spiking" else 1, args.workers)
    progress = tqdm(total=len(todo), desc="synth-cells", unit="cell")
    if todo and args.workers <= 1:
        for batch in batches:  # in this process (e.g. from a notebook): no worker start-up
            _write_batch(args.model, args.out, batch, rate, args.seed, _formats(args))
            progress.update(len(batch))
    elif todo:
        # spawn: the workers must not inherit a parent's TensorFlow threads (a notebook's, say).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, args.workers), mp_context=context) as pool:
            futures = {pool.submit(_write_batch, args.model, args.out, b, rate, args.seed, _formats(args)): len(b) for b in batches}
            for future in as_completed(futures):
                future.result()
                progress.update(futures[future])
    progress.close()


def _formats(args):
    from gfr_keras.ephys.spiking_bank import FORMATS

    return FORMATS[getattr(args, "format", "nwb1")]


def _done(args, row):
    from gfr_keras.ephys.spiking_bank import cell_files

    cell_id = int(row["specimen__id"])
    if args.model != "spiking":
        return os.path.exists(os.path.join(args.out, f"specimen_{cell_id}", "ephys.nwb"))
    return all(os.path.exists(path) for path in cell_files(args.out, cell_id, _formats(args)))


def run(args):
    import importlib

    from gfr_keras.dataset.provenance import synthetic_source
    from gfr_keras.ephys.synthetic import write_bank_description

    if args.format != "nwb1" and args.model != "spiking":
        raise options.usage_error("format", f"NWB 2 banks are written for --model spiking only, got --model {args.model}")
    rate = args.sampling_rate or _DEFAULT_RATE_HZ[args.model]
    if rate < _MIN_RATE_HZ[args.model]:
        raise options.usage_error(
            "sampling_rate", f"the {args.model} model needs at least {_MIN_RATE_HZ[args.model]} Hz, got {rate}"
        )
    module = importlib.import_module(_MODULES[args.model])
    chosen = module.choose_cells(module.load_allen_metadata(), args.n, args.seed, per_line=args.per_line)
    rows = [row.to_dict() for _, row in chosen.iterrows()]
    from gfr_keras.ephys.bank_folder import claim_bank
    from gfr_keras.errors import RunStateError

    settings = {"model": args.model, "n": args.n, "seed": args.seed, "per_line": args.per_line, "sampling_rate_hz": rate}
    try:
        note = claim_bank(args.out, settings, [int(row["specimen__id"]) for row in rows], args.replace)
    except RunStateError as error:
        if error.reason != "settings_differ":
            raise
        raise RunStateError(f"{error.message.split('; replace it')[0]}; rerun with --replace to delete the old bank's "
                            "files and write this one, or use another --out", path=args.out, reason=error.reason) from None
    if note:
        print(note)
    manifest = module.write_cache_index(args.out, rows)
    write_bank_description(args.out, synthetic_source(args.model, args.seed, rate, len(rows), args.per_line))
    todo = [row for row in rows if not _done(args, row)]
    started = time.perf_counter()
    _simulate(args, todo, rate)
    print(
        f"{len(rows)} {args.model} cells in {args.out} ({len(rows) - len(todo)} already there, {len(todo)} simulated "
        f"at {rate} Hz in {time.perf_counter() - started:.0f} s); manifest: {manifest}"
    )
    for row in rows:
        line = row["line_name"] if isinstance(row["line_name"], str) else "-"
        print(f"  {int(row['specimen__id'])}  {row['donor__species']:<13} {line}")
    return 0

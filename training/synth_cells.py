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

#: Slowest sampling rate of each model (Hz), by the names of `gfr_keras.ephys.bank_models.BANK_MODELS` (not
#: imported here: `gfr --help` loads every stage's module): allensdk's feature extractor filters spiking
#: recordings at 10 kHz, which needs more than 20 kHz; the GLIF bank was made at 10 kHz, and slower rates
#: leave spikes a single sample wide. Allen's own recordings are 50 to 200 kHz.
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
    parser.add_argument("--model", choices=sorted(_MIN_RATE_HZ), default="spiking", help="the cells' neuron model (see above)")
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


def _batches(rows, batch, workers):
    """Rows in batches of at most `batch`, at least one batch per worker."""
    size = max(1, min(batch, -(-len(rows) // max(1, workers))))
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _simulate(args, write_cells, todo, rate):
    """Write the cells of `todo` with the bank's `write_cells`, in batches, in this process or in `args.workers`."""
    import functools

    from tqdm import tqdm

    from gfr_keras.process_pool import run_jobs

    write_batch = functools.partial(write_cells, sampling_rate_hz=rate, seed=args.seed, formats=_formats(args))
    jobs = [(args.out, batch) for batch in _batches(todo, args.batch if args.model == "spiking" else 1, args.workers)]
    progress = tqdm(total=len(todo), desc="synth-cells", unit="cell")
    for (_, batch), _ in run_jobs(write_batch, jobs, args.workers):
        progress.update(len(batch))
    progress.close()


def _formats(args):
    from gfr_keras.ephys.cell_bank import FORMATS

    return FORMATS[getattr(args, "format", "nwb1")]


def _done(args, row):
    from gfr_keras.ephys.cell_bank import cell_files

    return all(os.path.exists(path) for path in cell_files(args.out, int(row["specimen__id"]), _formats(args)))


def run(args):
    from gfr_keras.allen_metadata import load_allen_metadata
    from gfr_keras.dataset.provenance import synthetic_source
    from gfr_keras.ephys.bank_models import BANK_MODELS  # numpy, h5py and allensdk: no TensorFlow
    from gfr_keras.ephys.cell_bank import write_bank_description, write_cache_index

    if args.format != "nwb1" and args.model != "spiking":
        raise options.usage_error("format", f"NWB 2 banks are written for --model spiking only, got --model {args.model}")
    bank = BANK_MODELS[args.model]
    rate = args.sampling_rate or bank.DEFAULT_SAMPLING_RATE_HZ
    if rate < _MIN_RATE_HZ[args.model]:
        raise options.usage_error(
            "sampling_rate", f"the {args.model} model needs at least {_MIN_RATE_HZ[args.model]} Hz, got {rate}"
        )
    chosen = bank.choose_cells(load_allen_metadata(), args.n, args.seed, per_line=args.per_line)
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
    manifest = write_cache_index(args.out, rows)
    write_bank_description(args.out, synthetic_source(args.model, args.seed, rate, len(rows), args.per_line))
    todo = [row for row in rows if not _done(args, row)]
    started = time.perf_counter()
    _simulate(args, bank.write_cells, todo, rate)
    print(
        f"{len(rows)} {args.model} cells in {args.out} ({len(rows) - len(todo)} already there, {len(todo)} simulated "
        f"at {rate} Hz in {time.perf_counter() - started:.0f} s); manifest: {manifest}"
    )
    for row in rows:
        line = row["line_name"] if isinstance(row["line_name"], str) else "-"
        print(f"  {int(row['specimen__id'])}  {row['donor__species']:<13} {line}")
    return 0

"""`gfr preprocess`: Allen recordings (through allensdk) to one processed HDF5 file per cell.

Resumable: a cell whose `<cell_id>.h5` exists is skipped, and every file is
written under a temporary name and renamed, so a killed run leaves no
half-written file. A cell that fails is recorded in `failures.csv` with its
reason and the run goes on; a rerun tries failed cells again.
"""

import csv
import os
import time

from tqdm import tqdm

from gfr_keras.io_utils import atomic_path


def add_arguments(parser):
    parser.add_argument("--manifest", default="cell_types/manifest.json", help="CellTypesCache manifest (default: %(default)s)")
    parser.add_argument("--out", required=True, help="PROCESSED_DIR for <cell_id>.h5, failures.csv, cell_ids.csv")
    parser.add_argument("--cell-ids", help="CSV of cell ids (one per line, or a 'cell_id' column); default: every cell of the cache")
    parser.add_argument("--plots", action="store_true", help="also write PROCESSED_DIR/plots/<cell_id>.png")


def read_cell_ids(path):
    """Cell ids from a CSV: one per line, optionally under a header; errors name the line."""
    ids = []
    with open(path, newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or not row[0].strip():
                continue
            value = row[0].strip()
            if line_number == 1 and not value.lstrip("-").replace(".", "", 1).isdigit():
                continue  # a header
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{path}: line {line_number}: expected a cell id, got {value!r}") from None
            if number != int(number) or number < 0:
                raise ValueError(f"{path}: line {line_number}: expected a cell id, got {value!r}")
            ids.append(int(number))
    return ids


def _write_csv(path, header, rows):
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)


def _read_failures(path):
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as handle:
        return {int(row["cell_id"]): row["reason"] for row in csv.DictReader(handle)}


def _remove_stale_temp_files(folder):
    """Temp files of a killed run (atomic writes name them .<target>.<random>.tmp)."""
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp"):
            os.remove(os.path.join(folder, name))


def run(args):
    from gfr_keras.allen_ingest import CellProcessingError, list_cells, open_cache, process_cell
    from gfr_keras.processed import write_processed_cell

    if not os.path.exists(args.manifest):
        print(f"{args.manifest} does not exist: allensdk will create it and download from the Allen API")
    cache = open_cache(args.manifest)
    cells = list_cells(cache)
    os.makedirs(args.out, exist_ok=True)
    _remove_stale_temp_files(args.out)
    if args.cell_ids:
        cell_ids = read_cell_ids(args.cell_ids)
    else:
        cell_ids = sorted(cells)
        _write_csv(os.path.join(args.out, "cell_ids.csv"), ["cell_id"], [[c] for c in cell_ids])

    failures_path = os.path.join(args.out, "failures.csv")
    failures = _read_failures(failures_path)
    done, skipped, failed = [], [], []
    started = time.perf_counter()
    progress = tqdm(cell_ids, desc="preprocess", unit="cell")
    for cell_id in progress:
        target = os.path.join(args.out, f"{cell_id}.h5")
        if os.path.exists(target):
            skipped.append(cell_id)
            continue
        info = cells.get(cell_id, {"species": "", "cre_line": ""})
        try:
            cell = process_cell(cache, cell_id, info["species"], info["cre_line"], keep_raw=args.plots)
            if args.plots:
                from training.preprocess_plots import plot_cell

                plot_cell(cell, os.path.join(args.out, "plots", f"{cell_id}.png"))
            write_processed_cell(cell, target)
        except CellProcessingError as error:
            reason = str(error)
        except Exception as error:  # one bad cell must not stop the run
            reason = f"unexpected {type(error).__name__}: {error}"
        else:
            done.append(cell_id)
            if failures.pop(cell_id, None) is not None:
                _write_csv(failures_path, ["cell_id", "reason"], sorted(failures.items()))
            continue
        failed.append(cell_id)
        failures[cell_id] = reason
        _write_csv(failures_path, ["cell_id", "reason"], sorted(failures.items()))
        progress.write(f"cell {cell_id}: failed: {reason}")

    missing_noise = sum(1 for c in failed if "Noise" in failures[c] and "missing stimulus" in failures[c])
    print(
        f"preprocess: {len(cell_ids)} cells in {time.perf_counter() - started:.1f} s: {len(done)} processed, "
        f"{len(skipped)} skipped (already done), {len(failed)} failed (see {failures_path})\n"
        f"  with Noise 1 and Noise 2: {len(done) + len(skipped)}; without Noise 1 or Noise 2: {missing_noise}"
    )
    return 0 if not failed or done or skipped else 1

"""`gfr summary`: what a pipeline run made, where, and its headline numbers (the end of `make demo`).

Given a dataset JSON instead of a folder (`gfr summary gfr_keras/resources/gfr_dataset.json`),
it says what the dataset is (its provenance) and its records per configuration.
"""

import glob
import os


def add_arguments(parser):
    parser.add_argument("folder", help="the run's output folder (e.g. demo_output), or a dataset JSON file")
    parser.add_argument("--saved-models", default="saved_models", help="where `gfr export` wrote SavedModels")


def _fits(folder):
    import numpy as np

    from gfr_keras.dataset import read_fits

    rows = []
    for fits_dir in sorted(glob.glob(os.path.join(folder, "fits_*"))):
        fits = read_fits([fits_dir])
        ok = [f for f in fits if f.get("status") == "ok" and f.get("test_evr") is not None]
        # the median as `gfr build-dataset` prints it
        median = float(np.median([f["test_evr"] for f in ok])) if ok else float("nan")
        rows.append(f"  {os.path.basename(fits_dir):<14} {len(fits):>3} cells fitted, {len(ok):>3} ok, median test EVR {median:.3f}")
    return rows


def _datasets(folder):
    """Each dataset of the run, with the sentence saying what it is (its provenance)."""
    from gfr_keras.dataset.provenance import describe_provenance, read_provenance

    return [f"  {path}: {describe_provenance(read_provenance(path))}" for path in sorted(glob.glob(os.path.join(folder, "gfr_dataset.json")))]


def _runs(folder):
    from gfr_keras.io_utils import read_json

    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*", "result.json"))):
        result = read_json(path)
        rows.append(
            f"  {os.path.basename(os.path.dirname(path)):<20} test accuracy {result['test_accuracy']:.3f} "
            f"({result['model']}, {result.get('epochs', result.get('epochs_this_run'))} epochs, {result['wall_time_s']:.0f} s)"
        )
    return rows


def _saved_models(base):
    from gfr_keras.io_utils import read_json

    rows = []
    for manifest_path in sorted(glob.glob(os.path.join(base, "*", "*", "manifest.json"))):
        manifest = read_json(manifest_path)
        training = manifest.get("training") or {}
        if training.get("test_accuracy") is not None:
            detail = f"test accuracy {training['test_accuracy']:.3f}"
        else:
            detail = f"{len(manifest.get('cell_ids', []))} neurons"
        rows.append(f"  {os.path.dirname(manifest_path):<28} {manifest['kind']}: {detail}")
    return rows


def _dataset_summary(path):
    """A dataset file: what it is, then records, cells and median test EVR per configuration."""
    import numpy as np

    from gfr_keras.dataset.frames import load_dataset
    from gfr_keras.dataset.provenance import describe_provenance

    frames = load_dataset(path)
    provenance = next(iter(frames.values())).attrs.get("provenance")
    lines = [f"== summary of {path}", f"what it is: {describe_provenance(provenance)}", "records per configuration:"]
    for (bin_size, actv), frame in frames.items():
        evr = frame["test_evr"].dropna()
        median = f"median test EVR {float(np.median(evr)):.3f}" if len(evr) else "no test EVR"
        label = f"({bin_size}, {actv}) ms"
        lines.append(f"  {label:<14} {len(frame):>5} records, {median}")
    cells = {int(c) for frame in frames.values() for c in frame["cell_id"]}
    lines.append(f"{sum(len(f) for f in frames.values())} records of {len(cells)} cells")
    return lines


def run(args):
    if os.path.isfile(args.folder):
        print("\n".join(_dataset_summary(args.folder)))
        return 0
    if not os.path.isdir(args.folder):
        from gfr_keras.errors import MissingInputError

        raise MissingInputError(f"folder: {args.folder} does not exist (or is not a folder)", path=args.folder)
    lines = [f"== summary of {args.folder}"]
    sections = (
        ("first look", [f"  {p}" for p in sorted(glob.glob(os.path.join(args.folder, "*.png")))]),
        ("synthetic bank", [f"  {p}" for p in glob.glob(os.path.join(args.folder, "*", "manifest.json"))]),
        ("fits (per configuration)", _fits(args.folder)),
        ("dataset", _datasets(args.folder)),
        ("L-MNIST networks", _runs(args.folder)),
        ("dataset explorer", [f"  {p}" for p in glob.glob(os.path.join(args.folder, "*", "index.html"))]),
        ("SavedModels", _saved_models(args.saved_models)),
    )
    for title, rows in sections:
        if rows:
            lines += [f"{title}:", *rows]
    print("\n".join(lines))
    return 0

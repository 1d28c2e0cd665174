"""`gfr summary`: what a pipeline run made, where, and its headline numbers (the end of `make demo`)."""

import glob
import os


def add_arguments(parser):
    parser.add_argument("folder", help="the run's output folder (e.g. demo_output)")
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


def run(args):
    if not os.path.isdir(args.folder):
        raise FileNotFoundError(f"folder: {args.folder} does not exist")
    lines = [f"== summary of {args.folder}"]
    sections = (
        ("first look", [f"  {p}" for p in sorted(glob.glob(os.path.join(args.folder, "*.png")))]),
        ("synthetic bank", [f"  {p}" for p in glob.glob(os.path.join(args.folder, "*", "manifest.json"))]),
        ("fits (per configuration)", _fits(args.folder)),
        ("dataset", [f"  {p}" for p in glob.glob(os.path.join(args.folder, "gfr_dataset.json"))]),
        ("L-MNIST networks", _runs(args.folder)),
        ("dataset explorer", [f"  {p}" for p in glob.glob(os.path.join(args.folder, "*", "index.html"))]),
        ("SavedModels", _saved_models(args.saved_models)),
    )
    for title, rows in sections:
        if rows:
            lines += [f"{title}:", *rows]
    print("\n".join(lines))
    return 0

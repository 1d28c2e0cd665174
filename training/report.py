"""`gfr report`: a static, offline dataset explorer (index and one page per cell)."""

#: Library parameter -> flag, where the flag is not the parameter's name with dashes.
FLAGS = {"fits_dirs": "--fits", "processed_dirs": "--processed"}


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="the dataset JSON (e.g. the shipped gfr_keras/resources/gfr_dataset.json)")
    parser.add_argument("--processed", nargs="*", default=[], metavar="DIR", help="processed-cell folders: f-I points and Noise 2 predictions")
    parser.add_argument("--fits", nargs="*", default=[], metavar="DIR", help="`gfr fit` folders: species, and fits the filters left out")
    parser.add_argument("--out", required=True, help="the site folder (an existing report there is replaced atomically)")


def run(args):
    from gfr_keras.report import build_report

    summary = build_report(args.dataset, args.out, processed=args.processed, fits=args.fits)
    print(
        f"report: {summary['cells']} cells, {summary['records']} records "
        f"({summary['with_recordings']} cells with recordings) in {summary['seconds']:.1f} s"
        + (f"; {summary['fits_skipped']} failed fits without parameters left out" if summary["fits_skipped"] else "")
    )
    print(f"dataset: {summary['provenance']}")
    print(summary["index"])
    return 0

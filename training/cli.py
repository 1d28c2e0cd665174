"""The `gfr` command. Each pipeline stage is a subcommand."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _demo(args):
    from training.demo import print_summary, run_demo

    records = None
    if args.dataset:
        from gfr_keras.dataset.records import read_dataset

        records = read_dataset(args.dataset)
    print_summary(run_demo(args.out, records=records))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gfr", description="Generalized Firing Rate neurons for Keras: pipeline commands."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="drive the shipped reference neurons with a test current; print rates, plot"
    )
    demo.add_argument("--out", default="demo_output", help="folder for gfr_demo.png (default: %(default)s)")
    demo.add_argument(
        "--dataset", help="a dataset JSON to take the neurons from (default: the shipped reference neurons)"
    )
    demo.set_defaults(handler=_demo)

    from training import build_dataset, export, fit, preprocess, report, synth_cells, train_network

    stages = (
        ("synth-cells", synth_cells, "write an offline CellTypesCache of GLIF cells built from real Allen cells"),
        ("preprocess", preprocess, "bin Allen recordings (read with allensdk) into one HDF5 file per cell"),
        ("fit", fit, "fit GFR neurons to processed cells, a population at a time"),
        ("build-dataset", build_dataset, "merge fits into the JSON parameter dataset"),
        ("train-network", train_network, "line-by-line MNIST with GFR neurons (or a baseline)"),
        ("export", export, "SavedModels for TF Serving (lmnist, gfr-neurons)"),
        ("report", report, "a static, offline dataset explorer: index and one page per cell"),
    )
    for name, module, help_text in stages:
        stage = commands.add_parser(name, help=help_text)
        module.add_arguments(stage)
        stage.set_defaults(handler=module.run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, KeyError, FileNotFoundError) as error:
        print(f"gfr {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

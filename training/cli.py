"""The `gfr` command. Each pipeline stage is a subcommand."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _demo(args):
    from training.demo import print_summary, run_demo

    records = None
    if args.dataset:
        from gfr_keras.dataset import read_dataset

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

    from training import build_dataset, export, fit, preprocess, synth_cells, train_network

    stage = commands.add_parser(
        "synth-cells", help="write an offline CellTypesCache of GLIF cells built from real Allen cells"
    )
    synth_cells.add_arguments(stage)
    stage.set_defaults(handler=synth_cells.run)
    stage = commands.add_parser(
        "preprocess", help="bin Allen recordings (read with allensdk) into one HDF5 file per cell"
    )
    preprocess.add_arguments(stage)
    stage.set_defaults(handler=preprocess.run)
    stage = commands.add_parser("fit", help="fit GFR neurons to processed cells, a population at a time")
    fit.add_arguments(stage)
    stage.set_defaults(handler=fit.run)
    stage = commands.add_parser("build-dataset", help="merge fits into the JSON parameter dataset")
    build_dataset.add_arguments(stage)
    stage.set_defaults(handler=build_dataset.run)
    stage = commands.add_parser("train-network", help="line-by-line MNIST with GFR neurons (or a baseline)")
    train_network.add_arguments(stage)
    stage.set_defaults(handler=train_network.run)
    stage = commands.add_parser("export", help="SavedModels for TF Serving (lmnist, gfr-neurons)")
    export.add_arguments(stage)
    stage.set_defaults(handler=export.run)
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

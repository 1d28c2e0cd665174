"""`gfr export`: SavedModels for TF Serving in `saved_models/<model_name>/<version>/`."""

import os

from training import options


def add_arguments(parser):
    parser.add_argument("kind", nargs="+", choices=("lmnist", "gfr-neurons"), help="what to export (both: one process)")
    parser.add_argument("--run", help="lmnist: a `gfr train-network` RUN_DIR (its best.keras)")
    parser.add_argument("--dataset", help="gfr-neurons: the dataset JSON (default: the shipped one)")
    parser.add_argument("--configuration", default="20,20", help="gfr-neurons: bin,activation-bin (default: %(default)s)")
    parser.add_argument("--cell-ids", nargs="*", type=options.cell_id, help="gfr-neurons: these cells (default: the whole configuration)")
    parser.add_argument("--out", default="saved_models", help="base folder (default: %(default)s)")


def _export_lmnist(args):
    from gfr_keras.io_utils import load_keras_file
    from gfr_keras.serving.export import export_lmnist

    if not args.run:
        raise options.usage_error("run", "lmnist needs --run RUN_DIR")
    path = os.path.join(args.run, "best.keras")
    if not os.path.exists(path):
        raise options.usage_error("run", f"{path} does not exist (train with `gfr train-network --out {args.run}`)")
    model = load_keras_file(path, "run", compile=True)
    return export_lmnist(model, args.out, source=os.path.abspath(args.run))


def _export_gfr_neurons(args):
    from gfr_keras.dataset import SHIPPED_DATASET_PATH, load_dataset, lookup_records
    from gfr_keras.neurons.timescales import parse_configuration
    from gfr_keras.serving.export import export_gfr_neurons

    dataset = args.dataset or os.fspath(SHIPPED_DATASET_PATH)
    bin_size, activation_bin_size = parse_configuration(args.configuration)  # its error names --configuration
    frames = load_dataset(dataset)
    cell_ids = args.cell_ids or frames[(bin_size, activation_bin_size)]["cell_id"].tolist()
    if not cell_ids:
        raise options.usage_error("configuration", f"no cells at {args.configuration} in {dataset}")
    records = lookup_records(frames, cell_ids, bin_size, activation_bin_size)
    return export_gfr_neurons(records, dataset, args.out)


def run(args):
    exporters = {"lmnist": _export_lmnist, "gfr-neurons": _export_gfr_neurons}
    for kind in dict.fromkeys(args.kind):  # each kind once, in the order given
        print(f"exported {exporters[kind](args)}")
    return 0

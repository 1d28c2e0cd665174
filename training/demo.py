"""`gfr demo`: the reference neurons (or a dataset's) driven by one test current, printed and plotted."""

import os

from training import options


def add_arguments(parser):
    parser.add_argument("--out", default="demo_output", help="folder for gfr_demo.png")
    parser.add_argument("--dataset", help="a dataset JSON to take the neurons from (default: the shipped reference neurons)")


def run(args):
    from gfr_keras.dataset import read_dataset
    from gfr_keras.plots import plot_reference_neurons
    from gfr_keras.showcase import drive_reference_neurons
    from gfr_keras.units import HZ_PER_PER_MS

    records = read_dataset(args.dataset) if args.dataset else None
    if records == []:
        raise options.usage_error("dataset", f"{args.dataset} holds no records (an empty list): no neurons to drive")
    time_ms, current_pa, results = drive_reference_neurons(records)
    os.makedirs(args.out, exist_ok=True)
    path = plot_reference_neurons(time_ms, current_pa, results, os.path.join(args.out, "gfr_demo.png"))
    print(f"{'cell_id':>8} {'config':>9} {'step':>10} {'noise':>10} {'peak':>10}   (mean rate, Hz)")
    for row in results:
        record = row["record"]
        configuration = f"({record['bin_size']},{record['actv_bin_size']})"
        rates = [HZ_PER_PER_MS * row[key] for key in ("step_rate_per_ms", "noise_rate_per_ms", "peak_rate_per_ms")]
        print(f"{record['cell_id']:>8} {configuration:>9} " + " ".join(f"{r:>10.2f}" for r in rates))
    print(f"plot: {path}")
    return 0

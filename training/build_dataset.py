"""`gfr build-dataset`: merge per-cell fits into the JSON parameter dataset (spec section 4).

Beside the dataset it writes `<name>.provenance.json`: where the cells came from and
how they were fitted (docs/dataset_format.md). `--merge` adds the fits to an existing
dataset (ours, or the published file), keeping its records and their provenance.
"""

#: Library parameter -> flag, where the flag is not the parameter's name with dashes.
FLAGS = {"folders": "--fits"}


def add_arguments(parser):
    parser.add_argument("--fits", nargs="+", required=True, help="FITS_DIR folders of `gfr fit` (any configurations, any shards)")
    parser.add_argument(
        "--merge", metavar="DATASET",
        help="an existing dataset JSON whose records are kept; a fit of the same cell and configuration replaces its record",
    )
    parser.add_argument("--out", required=True, help="the dataset JSON to write (and its .provenance.json beside it)")


def run(args):
    from gfr_keras.dataset import MAX_TRAIN_LOSS, MIN_VAL_EVR, build_dataset, format_table, read_fits, write_dataset
    from gfr_keras.dataset.provenance import describe_provenance, sidecar_path

    records, table, provenance, replaced = build_dataset(read_fits(args.fits), merge_with=args.merge)
    write_dataset(records, args.out, provenance=provenance)
    print(format_table(table))
    merged = f"; merged with {args.merge} ({replaced} of its records replaced by new fits)" if args.merge else ""
    print(f"{len(records)} records written to {args.out} (filters: val_evr > {MIN_VAL_EVR}, train_loss < {MAX_TRAIN_LOSS}){merged}")
    print(f"provenance: {sidecar_path(args.out)}: {describe_provenance(provenance)}")
    return 0

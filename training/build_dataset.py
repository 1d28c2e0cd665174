"""`gfr build-dataset`: merge per-cell fits into the JSON parameter dataset (spec section 4)."""

#: Library parameter -> flag, where the flag is not the parameter's name with dashes.
FLAGS = {"folders": "--fits"}


def add_arguments(parser):
    parser.add_argument("--fits", nargs="+", required=True, help="FITS_DIR folders of `gfr fit` (any configurations, any shards)")
    parser.add_argument("--out", required=True, help="the dataset JSON to write")


def run(args):
    from gfr_keras.dataset import MAX_TRAIN_LOSS, MIN_VAL_EVR, build_records, format_table, read_fits, write_dataset

    records, table = build_records(read_fits(args.fits))
    write_dataset(records, args.out)
    print(format_table(table))
    print(f"{len(records)} records written to {args.out} (filters: val_evr > {MIN_VAL_EVR}, train_loss < {MAX_TRAIN_LOSS})")
    return 0

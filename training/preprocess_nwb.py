"""`gfr preprocess --nwb`: NWB 2 files to processed cells (see `gfr_keras.ephys.nwb2_pipeline`)."""


def run_nwb(args):
    from gfr_keras.errors import InvalidParameterError
    from gfr_keras.ephys.nwb2_pipeline import preprocess_nwb_files
    from gfr_keras.ephys.stimulus_roles import load_stimulus_map

    if args.plots:
        raise ValueError("--plots: figures are drawn for --manifest (allensdk) runs only")
    stimulus_map = load_stimulus_map(args.stimulus_map) if args.stimulus_map else None
    try:
        summary = preprocess_nwb_files(args.nwb, args.out, stimulus_map, args.cell_id, args.max_rate_sweeps)
    except InvalidParameterError as error:
        raise ValueError(str(error).replace("cell_id:", "--cell-id:", 1)) from None
    for message in summary["warnings"]:
        print(f"warning: {message}")
    for cell_id in summary["failed"]:
        print(f"cell {cell_id}: failed: {summary['failures'].get(cell_id, '')}")
    done, skipped, failed = summary["done"], summary["skipped"], summary["failed"]
    print(
        f"preprocess: {len(done) + len(skipped) + len(failed)} NWB 2 files in {summary['seconds']:.1f} s: {len(done)} "
        f"processed, {len(skipped)} skipped (already done), {len(failed)} failed (see {summary['failures_path']}); "
        f"{len(summary['warnings'])} warnings (see {summary['warnings_path']})"
    )
    from training.preprocess import refuse_when_no_cell_processed

    refuse_when_no_cell_processed(summary, args.nwb)
    return 0

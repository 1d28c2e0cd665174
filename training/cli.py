"""The `gfr` command. Each pipeline stage is a subcommand (a module of `training/`).

`gfr --help`, `gfr STAGE --help` and argument errors answer without importing
TensorFlow: stage modules import the library only inside `run`.
"""

import argparse
import contextlib
import os
import sys

# 3, not 2: TensorFlow logs a cached compiled step's load (the compilation cache below) at ERROR level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (name, help, uses Keras): a stage without Keras never imports TensorFlow (5 to 8 s saved).
STAGES = (
    ("demo", "drive the reference neurons with a test current; print rates, plot", True),
    ("synth-cells", "write an offline CellTypesCache of synthetic cells built from real Allen cells", False),
    ("preprocess", "bin recordings (Allen NWB 1 through allensdk, NWB 2 through pynwb) into one HDF5 file per cell", False),
    ("fit", "fit GFR neurons to processed cells, a population at a time", True),
    ("build-dataset", "merge fits into the JSON parameter dataset", False),
    ("train-network", "line-by-line MNIST with GFR neurons (or a Keras baseline)", True),
    ("export", "SavedModels for TF Serving (lmnist, gfr-neurons)", True),
    ("report", "a static, offline dataset explorer: index and one page per cell", True),
    ("summary", "what a pipeline run made, where, and its headline numbers", False),
)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Marks required options and shows every other option's default (unless its help already does)."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = "%(default)" in text or "default:" in text
        no_default = action.default in (None, False, argparse.SUPPRESS) or action.required
        if action.required and action.option_strings:
            text += " (required)"
        elif not shown and not no_default and action.option_strings:
            text += " (default: %(default)s)"
        return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gfr",
        description="Generalized Firing Rate neurons for Keras: the pipeline's commands. "
        "`gfr COMMAND --help` describes each.",
        formatter_class=_HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    import importlib

    for name, help_text, uses_keras in STAGES:
        module = importlib.import_module(f"training.{name.replace('-', '_')}")
        stage = commands.add_parser(name, help=help_text, description=module.__doc__, formatter_class=_HelpFormatter)
        module.add_arguments(stage)
        # FLAGS: library parameter -> this stage's flag, where the flag is not `--` + the name with dashes.
        stage.set_defaults(handler=module.run, uses_keras=uses_keras, stage_parser=stage, flags=getattr(module, "FLAGS", {}))
    return parser


@contextlib.contextmanager
def native_stderr_silenced():
    """TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, CPU features) are written to file
    descriptor 2 before any log level applies; hide them while the libraries load."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load_libraries(quiet=True):
    from gfr_keras.compilation_cache import cache_setting_from_environment, enable_compilation_cache

    enabled, folder = cache_setting_from_environment()
    if enabled:  # TensorFlow reads its XLA flags when it sets up its devices, at the first op below
        enable_compilation_cache(folder, backend="tensorflow")
    with native_stderr_silenced() if quiet else contextlib.nullcontext():
        try:
            import keras  # imports the backend: TensorFlow or JAX
            import gfr_keras  # noqa: F401

            keras.ops.add(keras.ops.zeros(1), 1.0)  # devices are set up at the first op: its lines too
        except Exception:  # the error itself is raised again below, with stderr back
            pass
    import keras

    if enabled and keras.backend.backend() == "jax":  # JAX reads its setting at each compilation
        enable_compilation_cache(folder, backend="jax")


def main(argv=None):
    """Run one stage; the exit status: 0, 2 for the user's errors (one line), 1 for a bug (its
    traceback written to a file), 130 when interrupted (see training.error_report)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or an argument error already printed by argparse
        return exit.code
    try:
        if args.uses_keras:
            _load_libraries(quiet=os.environ.get("GFR_VERBOSE_STARTUP") != "1")
        return args.handler(args)
    except (Exception, KeyboardInterrupt) as error:
        from training.error_report import option_flags, report

        return report(error, args.command, argv, args.flags, option_flags(args.stage_parser))


if __name__ == "__main__":
    sys.exit(main())

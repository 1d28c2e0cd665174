"""`gfr train-network`: line-by-line MNIST with a recurrent network of GFR neurons (or a baseline).

Keras progress bars, TensorBoard logs (RUN_DIR/logs), the best model by validation
accuracy (RUN_DIR/best.keras), BackupAndRestore (RUN_DIR/backup: a killed run
resumes at the epoch it was in), the history (RUN_DIR/history.csv) and a final
RUN_DIR/result.json with accuracies, epochs, parameters and wall time.

RUN_DIR/gfr_settings.json records the run's settings; a rerun into RUN_DIR
(see `gfr_keras.network.run_folder`) resumes an interrupted run, writes the
result of one killed after its last epoch, does nothing for a finished run
asked for the epochs it has, trains a finished run on with `--continue`, and
refuses other settings or more epochs without `--continue`.
"""

import json

from training import options

#: Library parameter -> flag, where the flag is not the parameter's name with dashes.
FLAGS = {"units": "--n-nodes", "replace": "--sample-with-replacement", "source": "--neurons-from", "learning_rate": "--lr"}

# Known here without importing Keras, so `--help` stays fast; gfr_keras.network.baselines checks it too.
BASELINES = ("simple_rnn", "gru", "lstm")


def add_arguments(parser):
    parser.add_argument("--lr", type=options.positive_float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    parser.add_argument("--epochs", type=options.positive_int, default=10, help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=options.positive_int, default=64, help="(default: %(default)s)")
    parser.add_argument("--n-nodes", type=options.positive_int, default=256, help="hidden units (default: %(default)s)")
    parser.add_argument("--neurons", choices=("default", "biological"), default="default")
    parser.add_argument("--freeze-neurons", action="store_true", help="train only the projections")
    parser.add_argument("--freeze-activation", "--freeze-activations", dest="freeze_activation", action="store_true", help="keep every neuron's g fixed (train alpha and beta)")
    parser.add_argument("--dataset", help="GFR dataset JSON for biological neurons (default: the shipped one)")
    parser.add_argument("--configuration", default="20,20", help="bin,activation-bin of the neurons (default: %(default)s)")
    parser.add_argument(
        "--sample-with-replacement",
        action="store_true",
        help="biological neurons: allow more neurons than the dataset has cells (each cell used several times)",
    )
    parser.add_argument(
        "--readout-loss",
        choices=("first", "all"),
        default="all",
        help="train on the first zero-input step (the reference) or on all 5 that prediction averages (default: %(default)s)",
    )
    parser.add_argument(
        "--jit-compile",
        choices=("on", "off", "auto"),
        default="on",
        help="XLA; Keras' auto leaves it off on CPU-only TensorFlow, where it trains GFR networks about 2x faster "
        "(default: %(default)s; --distribute uses auto)",
    )
    parser.add_argument(
        "--beta-lr-scale",
        type=options.positive_float,
        default=1e-3,
        help="factor on the learning rate of the neurons' beta, which acts as 1000*beta; 1 = plain Adam as the reference (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha-lr-scale",
        type=options.positive_float,
        help="factor on the learning rate of the neurons' alpha (default: 1e-2 for biological neurons, whose slow "
        "traces' gain a plain step moves out of range, 1 for default neurons)",
    )
    parser.add_argument(
        "--protocol",
        choices=("project", "reference"),
        default="project",
        help="reference: the published code's scaling, PyTorch initialisation and training (default: %(default)s)",
    )
    parser.add_argument(
        "--scaling",
        choices=("neuron", "reference"),
        default="neuron",
        help="biological neurons: drive near each neuron's own threshold, in its own units, or the published scaling "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--scaling-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one option of the neuron scaling (biological: gfr_keras.network.SCALING_OPTIONS, e.g. "
        "centre_drive=false; default neurons: DEFAULT_NEURON_OPTIONS, e.g. traces=fast for the spec's alpha)",
    )
    parser.add_argument(
        "--variant", choices=("l", "p"), default="l",
        help="l: line by line (28 steps of a 28-pixel row); p: pixel by pixel (24x24 resized, 576 steps of 1 pixel), "
        "as the published reshape_image (default: %(default)s)",
    )
    parser.add_argument(
        "--neurons-from", metavar="RUN_DIR",
        help="permuted network (the published permuted_network): frozen neurons drawn with replacement from the "
        "trained network in RUN_DIR (its best.keras), fresh projections; its architecture replaces --n-nodes/--neurons",
    )
    parser.add_argument("--data-dir", help="a folder in MNIST's IDX layout (MNIST, Fashion-MNIST, KMNIST)")
    parser.add_argument("--tfds", action="store_true", help="full MNIST through tensorflow-datasets (downloads once)")
    parser.add_argument("--baseline", choices=BASELINES, help="train this Keras layer instead, same pipeline")
    parser.add_argument("--limit", type=options.positive_int, help="use only the first N training and N/4 test images (smoke runs)")
    parser.add_argument("--distribute", action="store_true", help="train under tf.distribute.MirroredStrategy")
    parser.add_argument(
        "--seed", type=options.seed, default=0,
        help="the run's randomness: initial weights, the draw of biological neurons, the order of the training digits "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--split-seed", type=options.seed, default=0,
        help="the digits: the offline split's 8,000 / 2,000 permutation and the 10 %% validation part carved from the "
        "training digits; kept apart from --seed so runs of several seeds are selected and tested on the same digits "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out", required=True,
        help="RUN_DIR. A rerun into it with the same settings resumes an interrupted run (or only writes the result of "
        "one killed after its last epoch); a finished run is left as it is; other settings are refused (use another "
        "--out, or delete RUN_DIR)",
    )
    parser.add_argument(
        "--continue", dest="continue_training", action="store_true",
        help="train the finished run in RUN_DIR on to --epochs (its total, more than it has) from its last epoch, "
        "same settings; history.csv gets the new epochs and result.json is rewritten",
    )


def _check(args):
    from gfr_keras.neurons.timescales import parse_configuration

    # The numbers were checked when parsed (training.options).
    if args.alpha_lr_scale is None:
        args.alpha_lr_scale = 1e-2 if args.neurons == "biological" and args.protocol == "project" else 1.0
    scaling_options = {}
    for item in args.scaling_option:
        key, _, value = item.partition("=")
        scaling_options[key] = {"true": True, "false": False}.get(value.lower(), value)
    args.scaling_options = scaling_options
    return parse_configuration(args.configuration)  # its error names `configuration`: --configuration


def run(args):
    configuration = _check(args)
    settings = _settings(args, configuration)
    plan = _plan(args, settings)  # before data and model: a refusal costs nothing
    if plan["action"] == "done":
        if not plan["recorded"]:
            from gfr_keras.network.run_folder import claim_run
            from gfr_keras.network.train import run_settings

            claim_run(args.out, run_settings(settings, args.batch_size, args.seed), args.epochs)  # records the settings
            print(plan["note"])
        print(f"{args.out}: finished run of {plan['epochs_done']} epochs (result.json); nothing to do. To train it "
              f"further: --continue --epochs N (N > {plan['epochs_done']}); for a new run: another --out")
        return 0
    import tensorflow as tf

    from gfr_keras.network.mnist import load_mnist
    from gfr_keras.network.train import train_lmnist

    data = load_mnist(args.data_dir, args.tfds, args.limit, args.split_seed, variant=args.variant)
    strategy = tf.distribute.MirroredStrategy() if args.distribute else tf.distribute.get_strategy()
    with strategy.scope():
        model = _build(args, configuration, data["train"][0].shape[1:])
    result = train_lmnist(model, data, args.out, args.epochs, args.batch_size, args.seed, strategy, settings,
                          continue_training=args.continue_training, split_seed=args.split_seed)
    print(json.dumps({k: result[k] for k in ("model", "data", "train_accuracy", "test_accuracy", "wall_time_s")}, indent=1))
    return 0


def _plan(args, settings):
    """What this invocation does with RUN_DIR (`plan_run`), checked before data and model; errors in the flags' terms."""
    from gfr_keras.errors import RunStateError
    from gfr_keras.network.run_folder import plan_run
    from gfr_keras.network.train import run_settings

    try:
        return plan_run(args.out, run_settings(settings, args.batch_size, args.seed), args.epochs, args.continue_training)
    except RunStateError as error:
        if error.reason not in ("run_finished", "epochs_below_done", "nothing_to_continue"):
            raise
        from gfr_keras.network.run_folder import epochs_done

        count = epochs_done(args.out)
        if error.reason == "nothing_to_continue":
            message = f"--continue: {args.out} holds no run to continue; drop --continue to start one"
        elif error.reason == "epochs_below_done":
            message = (f"--epochs: {args.out} has {count} epochs done, more than --epochs {args.epochs}; ask for at least "
                       f"{count} (more, with --continue, to train further), or use another --out for a new run")
        else:
            message = (f"--epochs: {args.out} holds a finished run of {count} epochs; to train it further rerun with "
                       f"--continue --epochs N (N > {count}, the total); to start a new run use another --out")
        raise RunStateError(message, path=args.out, reason=error.reason) from None


def _settings(args, configuration):
    """The options the run depends on: recorded in RUN_DIR (compared by a rerun) and in result.json."""
    return {
        "baseline": args.baseline,
        "neurons": None if args.baseline else args.neurons,
        "freeze_neurons": args.freeze_neurons,
        "freeze_activation": args.freeze_activation,
        "n_nodes": args.n_nodes,
        "readout_loss": None if args.baseline else args.readout_loss,
        "beta_lr_scale": None if args.baseline else args.beta_lr_scale,
        "alpha_lr_scale": None if args.baseline else args.alpha_lr_scale,
        "sample_with_replacement": args.sample_with_replacement,
        "lr": args.lr,
        "protocol": args.protocol,
        "scaling": None if args.baseline or args.neurons != "biological" else args.scaling,
        "scaling_options": args.scaling_options or None,
        "default_neuron_options": _default_neuron_settings(args),
        "variant": args.variant,
        "neurons_from": args.neurons_from,
        "configuration": None if args.baseline else list(configuration),
        "dataset": _dataset_settings(args),
        "data_dir": args.data_dir,
        "tfds": args.tfds,
        "limit": args.limit,
        "split_seed": args.split_seed,
    }


def _dataset_settings(args):
    """Biological neurons: which dataset they come from and what it is (its provenance); else None."""
    import os

    from gfr_keras.dataset import SHIPPED_DATASET_PATH, describe_provenance, read_provenance

    if args.baseline or args.neurons != "biological" or args.neurons_from:
        return None
    path = args.dataset or os.fspath(SHIPPED_DATASET_PATH)
    return {"path": path, "provenance": describe_provenance(read_provenance(path))}


def _default_neuron_settings(args):
    """What the default neurons were built with (`traces`, `bin_size_ms`); None for other models."""
    from gfr_keras.network.default_neurons import default_neuron_settings

    if args.baseline or args.neurons != "default" or args.neurons_from:
        return None
    return default_neuron_settings(args.scaling_options, "reference" if "reference" in (args.protocol, args.scaling) else "neuron")


def _build(args, configuration, input_shape):
    """The compiled model: built from the options, or permuted from a trained run (`--neurons-from`)."""
    from gfr_keras.network.train import build_model

    jit_compile = "auto" if args.distribute else {"on": True, "off": False, "auto": "auto"}[args.jit_compile]
    if args.neurons_from:
        from gfr_keras.network.model import compile_network
        from gfr_keras.network.permuted import permuted_network

        if args.baseline:
            raise options.usage_error("neurons_from", "a permuted network has GFR neurons; drop --baseline")
        model, _ = permuted_network(args.neurons_from, seed=args.seed)
        if tuple(model.input.shape[1:]) != tuple(input_shape):
            raise options.usage_error(
                "neurons_from", f"the network in {args.neurons_from} reads images of shape {tuple(model.input.shape[1:])}, "
                f"the data (--variant {args.variant}) is {tuple(input_shape)}",
            )
        return compile_network(
            model, args.lr, readout_loss=args.readout_loss, beta_learning_rate_scale=args.beta_lr_scale,
            jit_compile=jit_compile, protocol=args.protocol,
        )
    return build_model(
        args.n_nodes,
        baseline=args.baseline,
        neurons=args.neurons,
        dataset=args.dataset,
        configuration=configuration,
        freeze_neurons=args.freeze_neurons,
        freeze_activation=args.freeze_activation,
        sample_with_replacement=args.sample_with_replacement,
        learning_rate=args.lr,
        readout_loss=args.readout_loss,
        beta_learning_rate_scale=args.beta_lr_scale,
        alpha_learning_rate_scale=args.alpha_lr_scale,
        jit_compile=jit_compile,
        seed=args.seed,
        protocol=args.protocol,
        scaling=args.scaling,
        scaling_options=args.scaling_options,
        rows=input_shape[0],
        row_size=input_shape[1],
    )

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

import dataclasses
import json

from gfr_keras.network.config import BASELINES, NEURON_KINDS, READOUT_LOSSES, SCALINGS, TRAINING_PROTOCOLS, NetworkConfig
from training import options

# One row per option: (flags, the `NetworkConfig` field it sets or None, argparse keywords). A field's option
# defaults to the field's default; `run` builds the config from them (`network_config`).
OPTIONS = (
    (("--lr",), "learning_rate", {"type": options.positive_float, "help": "Adam learning rate (default: %(default)s)"}),
    (("--epochs",), None, {"type": options.positive_int, "default": 10, "help": "(default: %(default)s)"}),
    (("--batch-size",), None, {"type": options.positive_int, "default": 64, "help": "(default: %(default)s)"}),
    (("--n-nodes",), "units", {"type": options.positive_int, "help": "hidden units (default: %(default)s)"}),
    (("--neurons",), "neuron_kind", {"choices": NEURON_KINDS}),
    (("--freeze-neurons",), "freeze_neurons", {"action": "store_true", "help": "train only the projections"}),
    (("--freeze-activation", "--freeze-activations"), "freeze_activation",
     {"action": "store_true", "help": "keep every neuron's g fixed (train alpha and beta)"}),
    (("--dataset",), "dataset", {"help": "GFR dataset JSON for biological neurons (default: the shipped one)"}),
    (("--configuration",), "configuration", {"default": "20,20", "help": "bin,activation-bin of the neurons (default: %(default)s)"}),
    (("--sample-with-replacement",), "sample_with_replacement", {"action": "store_true", "help": "biological neurons: allow "
     "more neurons than the dataset has cells (each cell used several times)"}),
    (("--readout-loss",), "readout_loss", {"choices": READOUT_LOSSES, "help": "train on the first zero-input step (the "
     "reference) or on all 5 that prediction averages (default: %(default)s)"}),
    (("--jit-compile",), None, {"choices": ("on", "off", "auto"), "default": "on", "help": "XLA; Keras' auto leaves it off on "
     "CPU-only TensorFlow, where it trains GFR networks about 2x faster (default: %(default)s; --distribute uses auto)"}),
    (("--beta-lr-scale",), "beta_learning_rate_scale", {"type": options.positive_float, "help": "factor on the learning rate "
     "of the neurons' beta, which acts as 1000*beta; 1 = plain Adam as the reference (default: %(default)s)"}),
    (("--alpha-lr-scale",), "alpha_learning_rate_scale", {"type": options.positive_float, "help": "factor on the learning "
     "rate of the neurons' alpha (default: 1e-2 for biological neurons, whose slow traces' gain a plain step moves out of "
     "range, 1 for default neurons)"}),
    (("--protocol",), "training_protocol", {"choices": TRAINING_PROTOCOLS, "help": "reference: the published code's "
     "scaling, PyTorch initialisation and training (default: %(default)s)"}),
    (("--scaling",), "scaling", {"choices": SCALINGS, "help": "biological neurons: drive near each neuron's own threshold, in "
     "its own units, or the published scaling (default: %(default)s)"}),
    (("--scaling-option",), None, {"action": "append", "default": [], "metavar": "KEY=VALUE", "help": "override one option "
     "of the neurons (biological: gfr_keras.network.NEURON_SCALING_OPTIONS, e.g. centre_drive=false; default neurons: "
     "DEFAULT_NEURON_OPTIONS, e.g. traces=fast for the spec's alpha)"}),
    (("--variant",), None, {"choices": ("l", "p"), "default": "l", "help": "l: line by line (28 steps of a 28-pixel row); p: "
     "pixel by pixel (24x24 resized, 576 steps of 1 pixel), as the published reshape_image (default: %(default)s)"}),
    (("--neurons-from",), None, {"metavar": "RUN_DIR", "help": "permuted network (the published permuted_network): frozen "
     "neurons drawn with replacement from the trained network in RUN_DIR (its best.keras), fresh projections; its "
     "architecture replaces --n-nodes/--neurons"}),
    (("--data-dir",), None, {"help": "a folder in MNIST's IDX layout (MNIST, Fashion-MNIST, KMNIST)"}),
    (("--tfds",), None, {"action": "store_true", "help": "full MNIST through tensorflow-datasets (downloads once)"}),
    (("--baseline",), "baseline", {"choices": BASELINES, "help": "train this Keras layer instead, same pipeline"}),
    (("--limit",), None, {"type": options.positive_int, "help": "use only the first N training and N/4 test images (smoke runs)"}),
    (("--distribute",), None, {"action": "store_true", "help": "train under tf.distribute.MirroredStrategy"}),
    (("--seed",), "seed", {"type": options.seed, "help": "the run's randomness: initial weights, the draw of biological "
     "neurons, the order of the training digits (default: %(default)s)"}),
    (("--split-seed",), None, {"type": options.seed, "default": 0, "help": "the digits: the offline split's 8,000 / 2,000 "
     "permutation and the 10 %% validation part carved from the training digits; kept apart from --seed so runs of several "
     "seeds are selected and tested on the same digits (default: %(default)s)"}),
    (("--out",), None, {"required": True, "help": "RUN_DIR. A rerun into it with the same settings resumes an interrupted run "
     "(or only writes the result of one killed after its last epoch); a finished run is left as it is; other settings are "
     "refused (use another --out, or delete RUN_DIR)"}),
    (("--continue",), None, {"dest": "continue_training", "action": "store_true", "help": "train the finished run in RUN_DIR "
     "on to --epochs (its total, more than it has) from its last epoch, same settings; history.csv gets the new epochs and "
     "result.json is rewritten"}),
)

#: Library parameter -> flag, where the flag is not the parameter's name with dashes (error messages name the flag).
FLAGS = {
    **{field: flags[0] for flags, field, _ in OPTIONS if field and flags[0] != "--" + field.replace("_", "-")},
    "neuron_scaling_options": "--scaling-option", "default_neuron_options": "--scaling-option",
    "replace": "--sample-with-replacement", "source": "--neurons-from",
}


def add_arguments(parser):
    defaults = {field.name: field.default for field in dataclasses.fields(NetworkConfig)}
    for flags, field, keywords in OPTIONS:
        if field:
            keywords = {"dest": field, **keywords}
            if keywords.get("action") != "store_true":
                keywords.setdefault("default", defaults[field])
                if "choices" not in keywords:  # a value: named for the flag in the help, not for the field
                    keywords.setdefault("metavar", flags[0][2:].upper().replace("-", "_"))
        parser.add_argument(*flags, **keywords)


def network_config(args):
    """The run's `NetworkConfig`, from the flags (`--scaling-option KEY=VALUE` to the neurons' own options)."""
    from gfr_keras.network.config import parse_option_overrides

    fields = {field: getattr(args, field) for _, field, _ in OPTIONS if field}
    jit_compile = "auto" if args.distribute else {"on": True, "off": False, "auto": "auto"}[args.jit_compile]
    return NetworkConfig.with_scaling_options(parse_option_overrides(args.scaling_option), jit_compile=jit_compile, **fields)


def run(args):
    config = network_config(args)
    settings = recorded_settings(args, config)
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
        model = _build(args, config, data["train"][0].shape[1:])
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


def recorded_settings(args, config=None):
    """The options the run depends on: recorded in RUN_DIR (compared by a rerun) and in result.json."""
    config = config or network_config(args)
    data = {"variant": args.variant, "data_dir": args.data_dir, "tfds": args.tfds, "limit": args.limit, "split_seed": args.split_seed}
    return {**config.recorded_settings(neurons_from=args.neurons_from), **data}


def _build(args, config, input_shape):
    """The compiled model: built from the config, or permuted from a trained run (`--neurons-from`)."""
    from gfr_keras.network.model import compile_network
    from gfr_keras.network.train import build_model

    config = dataclasses.replace(config, rows=input_shape[0], row_size=input_shape[1])
    if not args.neurons_from:
        return build_model(config)
    from gfr_keras.network.permuted import permuted_network

    if args.baseline:
        raise options.usage_error("neurons_from", "a permuted network has GFR neurons; drop --baseline")
    model, _ = permuted_network(args.neurons_from, seed=args.seed)
    if tuple(model.input.shape[1:]) != tuple(input_shape):
        raise options.usage_error(
            "neurons_from", f"the network in {args.neurons_from} reads images of shape {tuple(model.input.shape[1:])}, "
            f"the data (--variant {args.variant}) is {tuple(input_shape)}",
        )
    # Its neurons are frozen: compiled, as before the config, with alpha's factor 1 whatever the neurons flag says.
    return compile_network(model, dataclasses.replace(config, alpha_learning_rate_scale=1.0))

"""`gfr train-network`: line-by-line MNIST with a recurrent network of GFR neurons (or a baseline).

Keras progress bars, TensorBoard logs (RUN_DIR/logs), the best model by validation
accuracy (RUN_DIR/best.keras), BackupAndRestore (RUN_DIR/backup: a killed run
resumes at the epoch it was in), the history (RUN_DIR/history.csv) and a final
RUN_DIR/result.json with accuracies, epochs, parameters and wall time.
"""

import json
import os
import time

BASELINES = ("simple_rnn", "gru", "lstm")


def add_arguments(parser):
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10, help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default: %(default)s)")
    parser.add_argument("--n-nodes", type=int, default=256, help="hidden units (default: %(default)s)")
    parser.add_argument("--neurons", choices=("default", "biological"), default="default")
    parser.add_argument("--freeze-neurons", action="store_true", help="train only the projections")
    parser.add_argument("--freeze-activations", action="store_true", help="keep every neuron's g fixed")
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
        type=float,
        default=1e-3,
        help="factor on the learning rate of the neurons' beta, which acts as 1000*beta; 1 = plain Adam as the reference (default: %(default)s)",
    )
    parser.add_argument("--data-dir", help="a folder in MNIST's IDX layout (MNIST, Fashion-MNIST, KMNIST)")
    parser.add_argument("--tfds", action="store_true", help="full MNIST through tensorflow-datasets (downloads once)")
    parser.add_argument("--baseline", choices=BASELINES, help="train this Keras layer instead, same pipeline")
    parser.add_argument("--limit", type=int, help="use only the first N training and N/4 test images (smoke runs)")
    parser.add_argument("--distribute", action="store_true", help="train under tf.distribute.MirroredStrategy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="RUN_DIR")


def load_data(args):
    from gfr_keras.mnist_data import load_idx_folder, offline_mnist, tfds_mnist

    if args.data_dir and args.tfds:
        raise ValueError("--data-dir and --tfds: give one data source")
    if args.data_dir:
        data = load_idx_folder(args.data_dir)
        data["label"] = f"IDX folder {args.data_dir}"
    elif args.tfds:
        data = tfds_mnist()
    else:
        data = offline_mnist(args.seed)
    if args.limit:
        data["train"] = tuple(x[: args.limit] for x in data["train"])
        data["test"] = tuple(x[: max(1, args.limit // 4)] for x in data["test"])
        data["label"] += f", first {args.limit} / {max(1, args.limit // 4)} images"
    return data


def build_baseline(kind, n_nodes, rows=28, row_size=28, classes=10, seed=0):
    """A Keras recurrent layer with the GFR network's outputs (`logits`, `probabilities`)."""
    import keras

    keras.utils.set_random_seed(seed)
    layer = {"simple_rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[kind]
    images = keras.Input((rows, row_size), name="images")
    logits = keras.layers.Dense(classes, name="readout")(layer(n_nodes, name=kind)(images))
    outputs = {
        "logits": keras.layers.Identity(name="logits")(logits),
        "probabilities": keras.layers.Softmax(name="probabilities")(logits),
    }
    return keras.Model(images, outputs, name=kind)


def parse_configuration(text):
    from gfr_keras.timescales import CONFIGURATIONS

    try:
        configuration = tuple(int(x) for x in text.split(","))
    except ValueError:
        configuration = None
    if configuration not in CONFIGURATIONS:
        raise ValueError(
            f"--configuration: expected bin,activation-bin, one of {[','.join(map(str, c)) for c in CONFIGURATIONS]}, got {text!r}"
        )
    return configuration


def build_model(args):
    from gfr_keras.dataset import SHIPPED_DATASET_PATH
    from gfr_keras.network import build_gfr_network, compile_network

    if args.baseline:
        model = build_baseline(args.baseline, args.n_nodes, seed=args.seed)
    else:
        model = build_gfr_network(
            args.n_nodes,
            neurons=args.neurons,
            dataset=args.dataset or SHIPPED_DATASET_PATH,
            configuration=parse_configuration(args.configuration),
            seed=args.seed,
            freeze_neurons=args.freeze_neurons,
            freeze_activations=args.freeze_activations,
            sample_with_replacement=args.sample_with_replacement,
        )
    jit_compile = "auto" if args.distribute else {"on": True, "off": False, "auto": "auto"}[args.jit_compile]
    return compile_network(
        model, args.lr, readout_loss=args.readout_loss, beta_learning_rate_scale=args.beta_lr_scale, jit_compile=jit_compile
    )


def run(args):
    import keras
    import numpy as np
    import tensorflow as tf

    from gfr_keras.mnist_data import make_dataset
    from gfr_keras.network import network_targets

    for name in ("epochs", "batch_size", "n_nodes"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected a positive number, got {getattr(args, name)}")
    if not args.beta_lr_scale > 0:
        raise ValueError(f"--beta-lr-scale: expected a positive number, got {args.beta_lr_scale}")
    parse_configuration(args.configuration)
    data = load_data(args)
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    strategy = tf.distribute.MirroredStrategy() if args.distribute else tf.distribute.get_strategy()
    with strategy.scope():
        model = build_model(args)
    targets = lambda x, y: (x, network_targets(y, model))
    train = make_dataset(x_train, y_train, args.batch_size, seed=args.seed).map(targets)
    test = make_dataset(x_test, y_test, max(args.batch_size, 256), shuffle=False).map(targets)
    os.makedirs(args.out, exist_ok=True)
    callbacks = [
        keras.callbacks.TensorBoard(os.path.join(args.out, "logs")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(args.out, "best.keras"), monitor="val_probabilities_accuracy", mode="max", save_best_only=True
        ),
        keras.callbacks.BackupAndRestore(os.path.join(args.out, "backup")),
        keras.callbacks.CSVLogger(os.path.join(args.out, "history.csv"), append=True),
    ]
    print(f"data: {data['label']}; model: {model.name}, {model.count_params()} parameters; devices: {strategy.num_replicas_in_sync}")
    started = time.perf_counter()
    # The tf.data pipeline shuffles every epoch itself.
    history = model.fit(train, validation_data=test, epochs=args.epochs, callbacks=callbacks, verbose=2, shuffle=False)
    wall_s = time.perf_counter() - started

    def accuracies(x, y, outputs):
        predicted = model.predict(x, batch_size=512, verbose=0)  # once for every output asked for
        return [float(np.mean(np.argmax(predicted[output], axis=1) == y)) for output in outputs]

    (train_accuracy,) = accuracies(x_train, y_train, ["probabilities"])
    test_accuracy, test_accuracy_first_step = accuracies(x_test, y_test, ["probabilities", "logits"])
    result = {
        "model": model.name,
        "baseline": args.baseline,
        "neurons": None if args.baseline else args.neurons,
        "freeze_neurons": args.freeze_neurons,
        "freeze_activations": args.freeze_activations,
        "n_nodes": args.n_nodes,
        "data": data["label"],
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        # Diagnostic: the first zero-input step alone (the step the reference trains on).
        "test_accuracy_first_step": test_accuracy_first_step,
        "readout_loss": None if args.baseline else args.readout_loss,
        "beta_lr_scale": None if args.baseline else args.beta_lr_scale,
        "sample_with_replacement": args.sample_with_replacement,
        "jit_compile": bool(model.jit_compile),
        "best_val_accuracy": float(max(history.history.get("val_probabilities_accuracy", [float("nan")]))),
        "epochs_this_run": len(history.history.get("loss", [])),
        "epochs": args.epochs,
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "wall_time_s": wall_s,
        "train_samples_per_s": len(y_train) * len(history.history.get("loss", [])) / wall_s if wall_s else None,
        "replicas": strategy.num_replicas_in_sync,
        "lr": args.lr,
        "batch_size": args.batch_size,
    }
    from gfr_keras.io_utils import write_json_atomic

    write_json_atomic(result, os.path.join(args.out, "result.json"), indent=1)
    print(json.dumps({k: result[k] for k in ("model", "data", "train_accuracy", "test_accuracy", "wall_time_s")}, indent=1))
    return 0

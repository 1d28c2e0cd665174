"""Validation accuracy in the first epochs: the default GFR network, candidate changes, and SimpleRNN variants.

Each variant is trained by `train_lmnist` (the pipeline of `gfr train-network`)
over every seed of `--seeds` on the same digits (split seed 0), and its
validation accuracy after each epoch is printed with the mean over seeds. The
SimpleRNN variants isolate the two ways the GFR network differs from Keras'
SimpleRNN baseline: its readout structure (5 zero-input steps after the image,
the published model's) and its rectified activation (a firing rate is never
negative). Chosen on validation accuracy; the test split is not read.

    uv run python benchmarks/lmnist_early_learning.py --seeds 0 1 2 --epochs 5
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from gfr_keras.network import READOUT_STEPS, AppendZeroSteps, ReadoutSteps, SelectSteps, compile_network
from gfr_keras.network.mnist import load_mnist
from gfr_keras.network.run_folder import read_history
from gfr_keras.network.train import build_model, train_lmnist

UNITS = 256


def simple_rnn_in_network_structure(seed, rectified=False):
    """SimpleRNN over the image and 5 zero-input steps, read out on those 5 as the GFR network is."""
    keras.utils.set_random_seed(seed)
    activation = (lambda z: keras.ops.relu(keras.ops.tanh(z))) if rectified else "tanh"
    images = keras.Input((28, 28), name="images")
    states = keras.layers.SimpleRNN(UNITS, activation=activation, return_sequences=True)(AppendZeroSteps(READOUT_STEPS)(images))
    logits = keras.layers.Dense(10)(SelectSteps(28, READOUT_STEPS)(states))
    first, readout, probabilities = ReadoutSteps(0, READOUT_STEPS)(logits)
    named = {"logits": first, "readout_logits": readout, "probabilities": probabilities}
    outputs = {name: keras.layers.Identity(name=name)(tensor) for name, tensor in named.items()}
    return compile_network(keras.Model(images, outputs), 1e-3, jit_compile=True)


def gfr_default(seed, learning_rate=1e-3, freeze_neurons=False, multipliers=None, recurrent_scale=1.0, start_drive=None):
    """The default GFR network with one change: learning rate, frozen neurons, per-variable rates, scales, biases."""
    model = build_model(UNITS, learning_rate=learning_rate, seed=seed, freeze_neurons=freeze_neurons)
    cell = model.get_layer("gfr_rnn").cell
    if multipliers:  # read when the optimizer builds, at the first step
        model.optimizer.multipliers.update(multipliers)
    if recurrent_scale != 1.0:
        cell.recurrent_scale_weight.assign(cell.recurrent_scale_weight.numpy() * recurrent_scale)
    if start_drive is not None:  # each bias carries half of it, in the drive's units
        for bias, scale in ((cell.input_bias, cell.input_scale), (cell.recurrent_bias, cell.recurrent_scale_weight)):
            bias.assign(0.5 * start_drive / scale.numpy())
    return model


VARIANTS = {
    "simple_rnn": lambda seed: build_model(UNITS, baseline="simple_rnn", seed=seed),
    "simple_rnn_network_structure": simple_rnn_in_network_structure,
    "rectified_simple_rnn_network_structure": lambda seed: simple_rnn_in_network_structure(seed, rectified=True),
    "gfr_default": gfr_default,
    "gfr_default_frozen_neurons": lambda seed: gfr_default(seed, freeze_neurons=True),
    "gfr_default_activation_lr_x0.1": lambda seed: gfr_default(seed, multipliers={"threshold_pa": 0.1, "poly_coeff": 0.1}),
    "gfr_default_lr_5e-4": lambda seed: gfr_default(seed, learning_rate=5e-4),
    "gfr_default_lr_3e-3": lambda seed: gfr_default(seed, learning_rate=3e-3),
    "gfr_default_recurrent_scale_x0.5": lambda seed: gfr_default(seed, recurrent_scale=0.5),
    "gfr_default_start_drive_1": lambda seed: gfr_default(seed, start_drive=1.0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    data = load_mnist(seed=0)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.variants:
            curves = []
            for seed in args.seeds:
                run_dir = os.path.join(work, name, str(seed))
                train_lmnist(VARIANTS[name](seed), data, run_dir, epochs=args.epochs, batch_size=args.batch_size, seed=seed, split_seed=0)
                curves.append([float(row["val_probabilities_accuracy"]) for row in read_history(os.path.join(run_dir, "history.csv"))])
                print(f"{name} seed {seed}: {[round(v, 4) for v in curves[-1]]}", flush=True)
            rows.append((name, np.mean(curves, axis=0)))
    print(f"\nvalidation accuracy after each epoch, mean of seeds {args.seeds}\n")
    print("| model | " + " | ".join(f"epoch {e + 1}" for e in range(args.epochs)) + " |")
    print("|---|" + "---:|" * args.epochs)
    for name, mean in rows:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in mean) + " |")


if __name__ == "__main__":
    main()

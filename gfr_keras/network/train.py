"""Training an L-MNIST network (or a baseline) with `model.fit`: callbacks, accuracies, `result.json`.

A run folder holds TensorBoard logs (`logs/`), the best model by validation
accuracy (`best.keras`), BackupAndRestore state (`backup/`: a killed run resumes
at the epoch it was in), the history (`history.csv`) and `result.json`.
"""

import os
import time

import keras
import numpy as np

from gfr_keras.io_utils import write_json_atomic
from gfr_keras.network.baselines import build_baseline
from gfr_keras.network.mnist import make_dataset
from gfr_keras.network.model import build_gfr_network, compile_network, network_targets


def build_model(
    n_nodes=256,
    baseline=None,
    neurons="default",
    dataset=None,
    configuration=(20, 20),
    freeze_neurons=False,
    freeze_activations=False,
    sample_with_replacement=False,
    learning_rate=1e-3,
    readout_loss="all",
    beta_learning_rate_scale=1e-3,
    jit_compile=True,
    seed=0,
):
    """A compiled L-MNIST model: a GFR network (see `build_gfr_network`) or a Keras `baseline`."""
    from gfr_keras.dataset.records import SHIPPED_DATASET_PATH

    if baseline:
        model = build_baseline(baseline, n_nodes, seed=seed)
    else:
        model = build_gfr_network(
            n_nodes,
            neurons=neurons,
            dataset=dataset or SHIPPED_DATASET_PATH,
            configuration=configuration,
            seed=seed,
            freeze_neurons=freeze_neurons,
            freeze_activations=freeze_activations,
            sample_with_replacement=sample_with_replacement,
        )
    return compile_network(
        model, learning_rate, readout_loss=readout_loss, beta_learning_rate_scale=beta_learning_rate_scale,
        jit_compile=jit_compile,
    )


def _callbacks(run_dir):
    return [
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, "best.keras"), monitor="val_probabilities_accuracy", mode="max", save_best_only=True
        ),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
    ]


def _accuracies(model, images, labels, outputs):
    predicted = model.predict(images, batch_size=512, verbose=0)  # once for every output asked for
    return [float(np.mean(np.argmax(predicted[output], axis=1) == labels)) for output in outputs]


def train_lmnist(model, data, run_dir, epochs=10, batch_size=64, seed=0, strategy=None, settings=None):
    """Fit `model` on `data` (see `load_mnist`), write the run folder; return `result.json`'s dict.

    Args:
        model: a compiled model from `build_model` (built inside `strategy.scope()` if given).
        data: `{"train": (images, labels), "test": (images, labels), "label": str}`.
        run_dir: the run folder (created).
        strategy: the `tf.distribute` strategy the model was built under, if any.
        settings: extra fields recorded in `result.json` (the options the model was built with).
    """
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    targets = lambda x, y: (x, network_targets(y, model))
    train = make_dataset(x_train, y_train, batch_size, seed=seed).map(targets)
    test = make_dataset(x_test, y_test, max(batch_size, 256), shuffle=False).map(targets)
    os.makedirs(run_dir, exist_ok=True)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    print(f"data: {data['label']}; model: {model.name}, {model.count_params()} parameters; devices: {replicas}")
    started = time.perf_counter()
    # The tf.data pipeline shuffles every epoch itself.
    history = model.fit(train, validation_data=test, epochs=epochs, callbacks=_callbacks(run_dir), verbose=2, shuffle=False)
    wall_s = time.perf_counter() - started
    (train_accuracy,) = _accuracies(model, x_train, y_train, ["probabilities"])
    test_accuracy, test_accuracy_first_step = _accuracies(model, x_test, y_test, ["probabilities", "logits"])
    epochs_run = len(history.history.get("loss", []))
    result = {
        "model": model.name,
        **(settings or {}),
        "data": data["label"],
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        # Diagnostic: the first zero-input step alone (the step the reference trains on).
        "test_accuracy_first_step": test_accuracy_first_step,
        "jit_compile": bool(model.jit_compile),
        "best_val_accuracy": float(max(history.history.get("val_probabilities_accuracy", [float("nan")]))),
        "epochs_this_run": epochs_run,
        "epochs": epochs,
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "wall_time_s": wall_s,
        "train_samples_per_s": len(y_train) * epochs_run / wall_s if wall_s else None,
        "replicas": replicas,
        "batch_size": batch_size,
    }
    write_json_atomic(result, os.path.join(run_dir, "result.json"), indent=1)
    return result

"""Training an L-MNIST network (or a baseline) with `model.fit`: callbacks, accuracies, `result.json`.

A run folder holds TensorBoard logs (`logs/`: losses, and the rate
diagnostics of `RateDiagnostics`), the best model by accuracy on a validation
split carved from the training data (`best.keras`; the test split is predicted
once, at the end, by that model), BackupAndRestore state (`backup/`: a killed run resumes
at the epoch it was in; kept after the run, so a finished run can be continued),
the history (`history.csv`, one row per epoch), its settings (`gfr_settings.json`)
and `result.json`. What a rerun into the folder does: `gfr_keras.network.run_folder`.
"""

import hashlib
import os
import time

import keras
import numpy as np

from gfr_keras.io_utils import read_json, write_json_atomic
from gfr_keras.units import HZ_PER_PER_MS
from gfr_keras.network.baselines import build_baseline
from gfr_keras.network.mnist import even_batch_size, make_dataset
from gfr_keras.network.config import NetworkConfig
from gfr_keras.network.model import build_gfr_network, compile_network
from gfr_keras.network.readout import network_targets
from gfr_keras.network.renamed import renamed_keywords
from gfr_keras.network.run_folder import (
    BACKUP_DIR, BEST_MODEL_FILE, HISTORY_FILE, RESULT_FILE, AtomicBackupAndRestore, EpochHistory, best_in_history, claim_run,
    read_history,
)


def build_model(config=256, **keywords):
    """A compiled L-MNIST model of a `NetworkConfig`: a GFR network (`build_gfr_network`) or a Keras `baseline`,
    compiled by `compile_network`.

    The keyword form, `build_model(units, baseline=..., neuron_kind=..., dataset=..., learning_rate=...,
    scaling_options=..., ...)`, takes `NetworkConfig` fields (see `NetworkConfig.from_keywords`); there a
    missing `dataset` is the shipped one and `alpha_learning_rate_scale` defaults to 1 whatever the neurons.
    The deprecated keywords `neurons=` and `protocol=` still work (`gfr_keras.network.renamed`).
    """
    config = NetworkConfig.coerce(config, renamed_keywords(keywords))
    if config.baseline:
        model = build_baseline(config.baseline, config.units, rows=config.rows, row_size=config.row_size,
                               classes=config.classes, seed=config.seed)
    else:
        model = build_gfr_network(config)
    return compile_network(model, config)


class RateDiagnostics(keras.callbacks.Callback):
    """The neurons' activity on a fixed batch, before training and after every epoch.

    TensorBoard (`logs/diagnostics`): `active_fraction/step_NN` (fraction of
    image-neuron pairs with a rate > 0 at each readout step), `active_fraction/input_steps`
    (mean over the 28 rows), `saturated_fraction/readout` (rate > 95 % of the
    neuron's gamma) and histograms `rates_hz/readout` and `rates_hz/input_steps`
    (Hz). `summary` holds the same numbers for `result.json` (a silent network
    reads `active_fraction_readout` ~0).
    """

    def __init__(self, images, log_dir=None, layer="gfr_rnn", readout_first=28):
        super().__init__()
        self.images, self.log_dir, self.layer, self.first = images, log_dir, layer, readout_first
        self.summary = {}
        self._probe = None
        self._writer = None

    def measure(self):
        network = self.model
        rnn = network.get_layer(self.layer)
        if self._probe is None:
            # One probe model for the whole run: a new one per epoch traced its predict function again every
            # epoch (TensorFlow's "retracing" warning, ~0.7 s an epoch).
            self._probe = keras.Model(network.input, rnn.output)
        rates = np.asarray(self._probe.predict_on_batch(self.images))
        gamma = np.asarray(rnn.cell.neurons.activation.max_firing_rate_per_ms)
        readout = rates[:, self.first :]
        active = (readout > 0).mean(axis=(0, 2))
        return {
            "active_fraction_readout": [round(float(a), 4) for a in active],
            "active_fraction_input_steps": round(float((rates[:, : self.first] > 0).mean()), 4),
            "saturated_fraction_readout": round(float((readout > 0.95 * gamma).mean()), 4),
            "rate_hz_readout_percentiles": {
                str(q): round(float(v), 3) for q, v in zip((50, 90, 99), np.percentile(readout * HZ_PER_PER_MS, [50, 90, 99]))
            },
            "_rates_hz": rates * HZ_PER_PER_MS,
        }

    def _log(self, epoch):
        numbers = self.measure()
        rates_hz = numbers.pop("_rates_hz")
        if self.log_dir:
            import tensorflow as tf

            if self._writer is None:  # one writer for the run: opening one per epoch cost ~0.1 s an epoch
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "diagnostics"))
            with self._writer.as_default(step=epoch):
                for step, fraction in enumerate(numbers["active_fraction_readout"]):
                    tf.summary.scalar(f"active_fraction/step_{self.first + step:02d}", fraction)
                tf.summary.scalar("active_fraction/input_steps", numbers["active_fraction_input_steps"])
                tf.summary.scalar("saturated_fraction/readout", numbers["saturated_fraction_readout"])
                write_histogram("rates_hz/readout", rates_hz[:, self.first :], epoch)
                write_histogram("rates_hz/input_steps", rates_hz[:, : self.first], epoch)
            self._writer.flush()
        return numbers

    def on_train_begin(self, logs=None):
        if "initial" not in self.summary:
            self.summary["initial"] = self._log(0)

    def on_epoch_end(self, epoch, logs=None):
        self.summary["final"] = self._log(epoch + 1)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_histogram(name, values, step, bins=30):
    """A TensorBoard histogram of `values` (any shape) in the default summary writer, binned by numpy.

    What `tf.summary.histogram` writes (`bins` equal buckets from the smallest value to the largest, as
    `[left edge, right edge, count]` rows), without its binning function: that is traced at its first call
    (0.6 s) and bins 1.8 million rates in 0.11 s, against 0.015 s here.
    """
    import tensorflow as tf

    counts, edges = np.histogram(np.asarray(values, dtype=np.float64).ravel(), bins=bins)
    buckets = np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)
    metadata = tf.compat.v1.SummaryMetadata(plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="histograms"))
    return tf.summary.write(name, tf.constant(buckets), step=step, metadata=metadata)


def _callbacks(run_dir, first):
    # A resumed or continued run keeps best.keras unless an epoch beats the best accuracy so far.
    best_so_far = best_in_history(read_history(os.path.join(run_dir, HISTORY_FILE)))
    return [*first,
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, BEST_MODEL_FILE), monitor="val_probabilities_accuracy", mode="max",
            save_best_only=True, initial_value_threshold=best_so_far,
        ),
        # Before the backup: an epoch whose row is written but not its backup is trained again and its row replaced.
        EpochHistory(os.path.join(run_dir, HISTORY_FILE)),
        AtomicBackupAndRestore(os.path.join(run_dir, BACKUP_DIR), delete_checkpoint=False),
    ]


def _accuracies(model, images, labels, outputs, batch_size=512):
    # Zero images pad the last batch to `batch_size`: every batch then has the shape the compiled predict step
    # was built for (a smaller last batch is compiled again); each image's prediction is its own, so the padding
    # changes nothing but the work.
    padding = -len(images) % batch_size
    padded = np.concatenate([images, np.zeros((padding, *images.shape[1:]), images.dtype)]) if padding else images
    predicted = model.predict(padded, batch_size=batch_size, verbose=0)  # once for every output asked for
    return [float(np.mean(np.argmax(predicted[output][: len(images)], axis=1) == labels)) for output in outputs]


def validation_split(x, y, fraction=0.1, seed=0):
    """`(train, validation)`: a seeded random `fraction` of the training data held out for model selection.

    The test split is never part of it: `best.keras` (and any default chosen
    from these runs) is picked on this validation part; the test split is
    predicted once, at the end.
    """
    order = np.random.default_rng(seed + 1).permutation(len(y))
    held = max(1, int(round(len(y) * fraction)))
    train, valid = np.sort(order[held:]), np.sort(order[:held])
    return (x[train], y[train]), (x[valid], y[valid])


def run_settings(settings=None, batch_size=64, seed=0, validation_fraction=0.1):
    """The settings a run folder records and compares: the caller's `settings` and the training's own."""
    return {**(settings or {}), "batch_size": int(batch_size), "seed": int(seed), "validation_fraction": float(validation_fraction)}


def _train_epochs(model, train, valid, run_dir, epochs, callbacks, action):
    """`model.fit` up to `epochs` (BackupAndRestore starts it after the last finished one); the epochs run now."""
    if action == "finish":  # every epoch is done, only the result is missing
        print(f"{run_dir}: all {epochs} epochs were done before it stopped; writing its result")
        return 0
    # The tf.data pipeline shuffles every epoch itself.
    history = model.fit(
        train, validation_data=valid, epochs=epochs, callbacks=_callbacks(run_dir, callbacks), verbose=2, shuffle=False
    )
    return len(history.history.get("loss", []))


def _restored_accuracies(model, run_dir, train, test):
    """Train and test accuracies of the run's best model (`best.keras`, restored into `model`)."""
    best_path = os.path.join(run_dir, BEST_MODEL_FILE)
    if os.path.exists(best_path):
        model.load_weights(best_path)
    (train_accuracy,) = _accuracies(model, *train, ["probabilities"])
    test_accuracy, test_accuracy_first_step = _accuracies(model, *test, ["probabilities", "logits"])
    # test_accuracy_first_step, a diagnostic: the first zero-input step alone (the step the reference trains on).
    return {"train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "test_accuracy_first_step": test_accuracy_first_step}


def _split_record(seed, split_seed, valid, test):
    """The seeds of a run and which digits chose `best.keras` and which were tested (a comparison checks they agree)."""
    return {
        "validation_images": int(len(valid[1])),
        "seed": seed,
        "split_seed": split_seed,
        "validation_digits_sha1": digits_digest(*valid),
        "test_digits_sha1": digits_digest(*test),
    }


def digits_digest(images, labels):
    """A short sha1 of a split's images and labels: runs tested on the same digits share it."""
    digest = hashlib.sha1(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def train_lmnist(
    model, data, run_dir, epochs=10, batch_size=64, seed=0, strategy=None, settings=None, validation_fraction=0.1,
    continue_training=False,
    split_seed=None,
    callbacks=(),
):
    """Fit `model` on `data` (see `load_mnist`), write the run folder; return `result.json`'s dict.

    A folder that already holds this run resumes it, finishes it, or (with
    `continue_training`) trains it on to `epochs`; see `gfr_keras.network.run_folder.plan_run`.

    Args:
        model: a compiled model from `build_model` (built inside `strategy.scope()` if given).
        data: `{"train": (images, labels), "test": (images, labels), "label": str}`.
        run_dir: the run folder (created).
        epochs: the run's total number of epochs (those already done included).
        strategy: the `tf.distribute` strategy the model was built under, if any.
        settings: extra fields recorded in `result.json` (the options the model was built with);
            with `batch_size`, `seed`, `split_seed` and `validation_fraction` they are the run's recorded settings.
        seed: the order in which the training digits are shuffled each epoch
            (the model's weights are seeded when it is built).
        validation_fraction: share of the training data held out (seeded) to
            choose `best.keras`; the test split is predicted once, at the end,
            with the restored best model.
        continue_training: a finished run of fewer epochs trains on to `epochs`.
        split_seed: the seed of the validation carve; None: `seed`. `gfr
            train-network` passes its `--split-seed` (0 unless given), so runs
            of several `--seed`s select on and are tested on the same digits.
        callbacks: more `keras.callbacks.Callback`s for `model.fit`, run before the run folder's own.

    Raises:
        RunStateError: `run_dir` holds a run with other settings, or a finished run (see `plan_run`).
    """
    split_seed = seed if split_seed is None else split_seed
    plan = _claim(run_dir, run_settings({**(settings or {}), "split_seed": split_seed}, batch_size, seed, validation_fraction),
                  epochs, continue_training)
    if plan["action"] == "done":
        return read_json(os.path.join(run_dir, RESULT_FILE))
    splits = _splits(data, validation_fraction, split_seed)
    train, valid = _batches(model, splits, batch_size, seed)
    diagnostics = _rate_diagnostics(model, splits["valid"][0], run_dir)
    os.makedirs(run_dir, exist_ok=True)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    print(f"data: {data['label']}; model: {model.name}, {model.count_params()} parameters; devices: {replicas}")
    started = time.perf_counter()
    epochs_run = _train_epochs(model, train, valid, run_dir, epochs, [*callbacks, *diagnostics], plan["action"])
    wall_s = time.perf_counter() - started
    result = {
        "model": model.name,
        **(settings or {}),
        "data": data["label"],
        **_restored_accuracies(model, run_dir, splits["train"], splits["test"]),
        "jit_compile": bool(model.jit_compile),
        "best_val_accuracy": _best_val_accuracy(run_dir),
        **_split_record(seed, split_seed, splits["valid"], splits["test"]),
        # None when only the result was written (the epochs ran in an earlier invocation).
        "diagnostics": diagnostics[0].summary if diagnostics and epochs_run else None,
        **_run_record(model, epochs_run, epochs, wall_s, len(splits["train"][1]), replicas, batch_size),
    }
    write_json_atomic(result, os.path.join(run_dir, RESULT_FILE), indent=1)
    return result


def _claim(run_dir, recorded, epochs, continue_training):
    """`claim_run`, its note printed: what this invocation does with the run folder."""
    plan = claim_run(run_dir, recorded, epochs, continue_training)
    if plan["note"]:
        print(plan["note"])
    return plan


def _splits(data, validation_fraction, split_seed):
    """`{"train", "valid", "test"}`: `(images, labels)` each; the validation part carved from the training data."""
    (x_train, y_train), (x_valid, y_valid) = validation_split(*data["train"], validation_fraction, split_seed)
    return {"train": (x_train, y_train), "valid": (x_valid, y_valid), "test": data["test"]}


def _batches(model, splits, batch_size, seed):
    """The training and validation `tf.data` pipelines, each element `(images, the model's targets)`."""
    (x_train, y_train), (x_valid, y_valid) = splits["train"], splits["valid"]
    targets = lambda x, y: (x, network_targets(y, model))
    # One batch shape each for training and validation: each shape costs a compile of its step.
    train = make_dataset(x_train, y_train, batch_size, seed=seed, drop_remainder=len(y_train) > batch_size).map(targets)
    valid = make_dataset(x_valid, y_valid, even_batch_size(len(y_valid)), shuffle=False).map(targets)
    return train, valid


def _rate_diagnostics(model, x_valid, run_dir):
    """`[RateDiagnostics]` on the first 256 validation images for a GFR network, `[]` for a baseline."""
    gfr = any(layer.name == "gfr_rnn" for layer in model.layers)
    return [RateDiagnostics(x_valid[:256], os.path.join(run_dir, "logs"), readout_first=x_valid.shape[1])] if gfr else []


def _best_val_accuracy(run_dir):
    best = best_in_history(read_history(os.path.join(run_dir, HISTORY_FILE)))
    return float("nan") if best is None else best


def _run_record(model, epochs_run, epochs, wall_s, train_images, replicas, batch_size):
    """The run's size and speed for `result.json`."""
    return {
        "epochs_this_run": epochs_run,
        "epochs": epochs,
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "wall_time_s": wall_s,
        "train_samples_per_s": train_images * epochs_run / wall_s if wall_s and epochs_run else None,
        "replicas": replicas,
        "batch_size": batch_size,
    }

"""A training run's folder across invocations: its settings, its history and what a rerun does.

The folder (`train_lmnist`'s `run_dir`) records the settings the run was
started with (`gfr_settings.json`, see `gfr_keras.run_settings`); `backup/`
holds the state after the last finished epoch (weights, optimizer, epoch
number: Keras' `BackupAndRestore`, kept after the run ends), `history.csv` one
row per finished epoch, `result.json` the final numbers. `plan_run` reads them
and says what an invocation does:

    new       an empty folder: train from epoch 0.
    resume    an interrupted run: train from the epoch after the last finished one.
    finish    an interrupted run whose epochs are all done (killed before
              `result.json`): only predict and write `result.json`.
    continue  a finished run asked, explicitly, for more epochs: train on from
              its last epoch's state, then rewrite `result.json`.
    done      a finished run asked for the epochs it has: nothing to do.

Other settings, fewer epochs than are done, or more epochs for a finished run
without `continue_training`, are a `RunStateError` before any work.
"""

import csv
import json
import math
import os
import time

import keras

from gfr_keras.errors import RunStateError
from gfr_keras.io_utils import read_json, write_csv_atomic, write_json_atomic
from gfr_keras.run_settings import check_settings, write_settings

RUN_KIND = "training run"
BACKUP_DIR, HISTORY_FILE, RESULT_FILE, BEST_MODEL_FILE = "backup", "history.csv", "result.json", "best.keras"


def read_history(path):
    """The rows of `history.csv` (dicts, values as text), one per epoch in epoch order.

    A folder written before rows were kept one per epoch may repeat an epoch
    (a rerun appended it again): the last row of each epoch wins.
    """
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        rows = {int(row["epoch"]): row for row in csv.DictReader(handle) if row.get("epoch", "").strip()}
    return [rows[epoch] for epoch in sorted(rows)]


class EpochHistory(keras.callbacks.Callback):
    """`history.csv`, rewritten atomically after every epoch with one row per epoch.

    A resumed run repeats the epoch it was killed in (or one whose row was
    written but not its backup); its row replaces the earlier one, where
    Keras' `CSVLogger` would append a second. Besides Keras' logs, each row has
    `train_time_s` (the epoch's training batches, the first epoch's compilation
    included) and `epoch_time_s` (its whole wall time: training, validation and
    the callbacks before this one, as the diagnostics and the checkpoint).
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self._times = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._times = {"begin": time.perf_counter()}

    def on_test_begin(self, logs=None):
        self._times.setdefault("trained", time.perf_counter())  # validation inside fit begins after the training batches

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        timing = {}
        if "begin" in self._times:
            timing = {"epoch_time_s": now - self._times["begin"], "train_time_s": self._times.get("trained", now) - self._times["begin"]}
        rows = {int(row["epoch"]): row for row in read_history(self.path)}
        rows[int(epoch)] = {"epoch": int(epoch), **{key: float(value) for key, value in (logs or {}).items()}, **timing}
        keys = sorted({key for row in rows.values() for key in row} - {"epoch"})
        write_csv_atomic(self.path, ["epoch", *keys], [[e, *(rows[e].get(k, "") for k in keys)] for e in sorted(rows)])


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` whose backup is replaced whole after every epoch.

    Keras writes `latest.weights.h5` in place: a run killed while it is being
    written leaves a file that cannot be read, and the run cannot resume. Here
    the weights are written beside it and renamed, then the epoch number.
    """

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        partial = os.path.join(self.backup_dir, "partial.weights.h5")  # Keras wants the .weights.h5 ending
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, self._weights_path)
        write_json_atomic({"epoch": int(epoch) + 1, "batch": 0}, self._training_metadata_path)


def best_in_history(rows, key="val_probabilities_accuracy"):
    """The largest finite `key` over the rows, or None."""
    values = [float(row[key]) for row in rows if row.get(key) not in (None, "")]
    values = [value for value in values if math.isfinite(value)]
    return max(values) if values else None


def epochs_done(run_dir):
    """Epochs finished in `run_dir`: the backup's epoch, else (no backup) the epochs in `history.csv`."""
    metadata = os.path.join(run_dir, BACKUP_DIR, "training_metadata.json")
    if os.path.exists(metadata):
        with open(metadata) as handle:
            return int(json.load(handle)["epoch"])
    return len(read_history(os.path.join(run_dir, HISTORY_FILE)))


def _started(run_dir):
    names = (BACKUP_DIR, HISTORY_FILE, RESULT_FILE, BEST_MODEL_FILE)
    return os.path.isdir(run_dir) and any(os.path.exists(os.path.join(run_dir, name)) for name in names)


def _unrecorded_differences(run_dir, settings):
    """For a run started before settings were recorded: the settings its `result.json` says differ."""
    path = os.path.join(run_dir, RESULT_FILE)
    if not os.path.exists(path):
        return []
    result = read_json(path)
    return [f"{key}: {result[key]!r} -> {value!r}" for key, value in settings.items() if key in result and result[key] != value]


def plan_run(run_dir, settings, epochs, continue_training=False):
    """What training `run_dir` to `epochs` epochs does now (see the module docstring); reads only.

    Args:
        settings: the run's settings (JSON values), compared with the folder's record.
        epochs: the total number of epochs asked for.
        continue_training: allow a finished run to train on to `epochs`.

    Returns:
        dict: `action`, `epochs_done`, `note` (a line to print, or None), `recorded` (whether the folder has a record).

    Raises:
        RunStateError: other settings; more epochs done than asked; a finished run asked for more
            epochs without `continue_training`, or continued without a backup; nothing to continue.
    """
    remedy = "train into another run folder, or delete this one to start it again with these settings"
    recorded = check_settings(run_dir, RUN_KIND, settings, remedy) is not None
    if not recorded and _started(run_dir):
        differences = _unrecorded_differences(run_dir, settings)
        if differences:
            raise RunStateError(f"{run_dir} holds a run made with other settings ({'; '.join(differences)}); {remedy}",
                                path=run_dir, reason="settings_differ")
    done, finished = epochs_done(run_dir), os.path.exists(os.path.join(run_dir, RESULT_FILE))
    plan = {"epochs_done": done, "recorded": recorded, "note": None}
    if not recorded and _started(run_dir):
        plan["note"] = f"{run_dir}: started before runs recorded their settings; the current settings are now recorded"
    if done > epochs:
        raise RunStateError(f"{run_dir} has {done} epochs done, more than the {epochs} asked for (epochs); ask for at "
                            f"least {done}", path=run_dir, parameter="epochs", reason="epochs_below_done")
    if not finished:
        if continue_training and done == 0:
            raise RunStateError(f"{run_dir} holds no run to continue (continue_training)", path=run_dir,
                                parameter="continue_training", reason="nothing_to_continue")
        return {**plan, "action": "finish" if done == epochs else ("resume" if done else "new")}
    if epochs == done:
        return {**plan, "action": "done"}
    if not continue_training:
        raise RunStateError(f"{run_dir} holds a finished run of {done} epochs (result.json); to train it to {epochs} "
                            "epochs, continue it (continue_training); to start a new run, use another run folder",
                            path=run_dir, parameter="continue_training", reason="run_finished")
    if not os.path.exists(os.path.join(run_dir, BACKUP_DIR, "training_metadata.json")):
        raise RunStateError(f"{run_dir} holds a run finished before runs kept their last epoch's state ({BACKUP_DIR}/), "
                            "so it cannot be continued; start a new run in another run folder",
                            path=run_dir, reason="no_backup")
    return {**plan, "action": "continue"}


def claim_run(run_dir, settings, epochs, continue_training=False):
    """`plan_run`, then create the folder and record its settings if it has no record."""
    plan = plan_run(run_dir, settings, epochs, continue_training)
    if not plan["recorded"]:
        os.makedirs(run_dir, exist_ok=True)
        write_settings(run_dir, RUN_KIND, settings)
    return plan

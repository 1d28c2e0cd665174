"""SavedModels for TF Serving: `saved_models/<model_name>/<version>/`, written beside the dataset.

Each export is a new integer version (never overwriting), written to a
temporary folder and renamed, with a `manifest.json` (source, dataset hash,
signatures, git commit). The graphs hold only stock TensorFlow ops, so
`tensorflow_model_server` loads them without gfr-keras.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np


def next_version(model_dir):
    """1 + the highest integer version folder in `model_dir` (1 if none)."""
    versions = [int(name) for name in os.listdir(model_dir) if name.isdigit()] if os.path.isdir(model_dir) else []
    return max(versions, default=0) + 1


def _git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(signatures):
    return {
        name: {
            "inputs": {k: {"dtype": v.dtype.name, "shape": v.shape.as_list()} for k, v in spec["inputs"].items()},
            "outputs": spec["outputs"],
        }
        for name, spec in signatures.items()
    }


def _write(archive, base_dir, model_name, manifest, assets=()):
    model_dir = os.path.join(base_dir, model_name)
    os.makedirs(model_dir, exist_ok=True)
    version = next_version(model_dir)
    staging = tempfile.mkdtemp(prefix=f".{version}.", dir=model_dir)
    try:
        target = os.path.join(staging, "model")
        archive.write_out(target, verbose=False)
        for source, name in assets:
            os.makedirs(os.path.join(target, "assets"), exist_ok=True)
            shutil.copyfile(source, os.path.join(target, "assets", name))
        with open(os.path.join(target, "manifest.json"), "w") as handle:
            json.dump({**manifest, "model_name": model_name, "version": version, "git_commit": _git_commit()}, handle, indent=1)
        final = os.path.join(model_dir, str(version))
        os.rename(target, final)  # a version folder appears whole or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def export_lmnist(model, base_dir="saved_models", source=None, model_name="lmnist"):
    """Export an L-MNIST network (`build_gfr_network` or a baseline with the same outputs).

    Signature `serving_default`: `images` float32 `[batch, 28, 28]` in [0, 1] ->
    `probabilities` float32 `[batch, 10]`, `classes` int64 `[batch]`.

    When `source` is a `gfr train-network` run folder, its `result.json`'s
    accuracies (test, best validation, data, epochs) go into the manifest
    under `"training"`.

    Returns:
        the version folder written.
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec([None, 28, 28], tf.float32, name="images")

    def serve(images):
        images = tf.ensure_shape(images, [None, 28, 28], name="check_images")
        tf.debugging.assert_greater_equal(images, 0.0, message="images: values must lie in [0, 1]")
        tf.debugging.assert_less_equal(images, 1.0, message="images: values must lie in [0, 1]")
        probabilities = model(images, training=False)["probabilities"]
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int64)}

    archive.add_endpoint("serving_default", serve, input_signature=[spec])
    signatures = {"serving_default": {"inputs": {"images": spec}, "outputs": {"probabilities": "float32 [batch, 10]", "classes": "int64 [batch]"}}}
    manifest = {"kind": "lmnist", "source": source, "signatures": _describe(signatures), "training": _run_result(source)}
    return _write(archive, base_dir, model_name, manifest)


_RESULT_FIELDS = ("model", "neurons", "freeze_neurons", "protocol", "data", "epochs", "test_accuracy", "best_val_accuracy", "train_accuracy")


def _run_result(source):
    """The accuracies of the run folder `source` (its result.json), or None."""
    path = os.path.join(source, "result.json") if source and os.path.isdir(source) else None
    if not path or not os.path.exists(path):
        return None
    with open(path) as handle:
        result = json.load(handle)
    return {key: result.get(key) for key in _RESULT_FIELDS}


def export_gfr_neurons(records, dataset_path, base_dir="saved_models", model_name="gfr_neurons"):
    """Export a population of fitted neurons (dataset records of one bin size).

    Signatures, for `units = len(records)` and `n` traces:
      - `simulate`: `current_pa` float32 `[batch, time, units]` -> `rate_per_ms` `[batch, time, units]`.
      - `step`: `current_pa` plus `rate_state` `[batch, units]` and `trace_state`
        `[batch, units * n]` (zeros to start) -> `rate_per_ms`, `rate_state`,
        `trace_state`: chunk by chunk, a client gets exactly the rates of one long
        `simulate` call; the server keeps no state.

    The dataset JSON is copied to `<version>/assets/gfr_dataset.json` and to
    `base_dir/gfr_dataset.json` (the current one).
    """
    import keras
    import tensorflow as tf

    from gfr_keras.io_utils import atomic_path
    from gfr_keras.dataset.lookup import population_from_records

    records = list(records)
    layer = population_from_records(records, return_sequences=True, return_state=True, name="gfr")
    units, n = layer.units, layer.n_traces
    layer.build((None, None, units))
    current = tf.TensorSpec([None, None, units], tf.float32, name="current_pa")
    rate_state = tf.TensorSpec([None, units], tf.float32, name="rate_state")
    trace_state = tf.TensorSpec([None, units * n], tf.float32, name="trace_state")
    archive = keras.export.ExportArchive()
    archive.track(layer)

    # The server feeds whatever a client sends: check shapes at run time, so a bad
    # request gets an error naming the input rather than one from deep in the graph.
    def checked(tensor, shape, name):
        return tf.ensure_shape(tensor, shape, name=f"check_{name}")

    def simulate(current_pa):
        rates, _, _ = layer(checked(current_pa, [None, None, units], "current_pa"))
        return {"rate_per_ms": rates}

    def step(current_pa, rate_state, trace_state):
        current_pa = checked(current_pa, [None, None, units], "current_pa")
        rate_state = checked(rate_state, [None, units], "rate_state")
        trace_state = checked(trace_state, [None, units * n], "trace_state")
        rates, f, h = layer(current_pa, initial_state=[rate_state, trace_state])
        return {"rate_per_ms": rates, "rate_state": f, "trace_state": h}

    archive.add_endpoint("simulate", simulate, input_signature=[current])
    archive.add_endpoint("step", step, input_signature=[current, rate_state, trace_state])
    signatures = {
        "simulate": {"inputs": {"current_pa": current}, "outputs": {"rate_per_ms": f"float32 [batch, time, {units}]"}},
        "step": {
            "inputs": {"current_pa": current, "rate_state": rate_state, "trace_state": trace_state},
            "outputs": {
                "rate_per_ms": f"float32 [batch, time, {units}]",
                "rate_state": f"float32 [batch, {units}]",
                "trace_state": f"float32 [batch, {units * n}]",
            },
        },
    }
    manifest = {
        "kind": "gfr_neurons",
        "cell_ids": [int(r["cell_id"]) for r in records],
        "configurations": sorted({(int(r["bin_size"]), int(r["actv_bin_size"])) for r in records}),
        "n_traces": n,
        "dataset": {"path": os.path.basename(os.fspath(dataset_path)), "sha256": _sha256(dataset_path)},
        "signatures": _describe(signatures),
    }
    version_dir = _write(archive, base_dir, model_name, manifest, assets=[(dataset_path, "gfr_dataset.json")])
    with atomic_path(os.path.join(base_dir, "gfr_dataset.json")) as tmp:
        shutil.copyfile(dataset_path, tmp)
    return version_dir

"""SavedModels for TF Serving: `saved_models/<model_name>/<version>/`, written beside the dataset.

Each export is a new integer version (never overwriting), written to a
temporary folder and renamed, with a `manifest.json` (source, dataset hash,
signatures, git commit). The graphs hold only stock TensorFlow ops, so
`tensorflow_model_server` loads them without gfr-keras.
"""

import inspect
import os
import shutil
import subprocess
import tempfile


from gfr_keras.io_utils import atomic_path, file_sha256, read_json, to_json


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
        manifest = {**manifest, "model_name": model_name, "version": version, "git_commit": _git_commit()}
        with open(os.path.join(target, "manifest.json"), "w") as handle:
            handle.write(to_json(manifest, indent=1))
        final = os.path.join(model_dir, str(version))
        os.rename(target, final)  # a version folder appears whole or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


# What a Python caller of the loaded model may send besides float32: numpy's float64, half
# floats, integer currents (pA) or pixel values. Each is cast to float32 before the checks.
_CAST_DTYPES = ("float64", "float16", "int64", "int32", "uint8")


def _add_endpoint(archive, name, fn, specs):
    """Add `fn` as endpoint `name`: float32 inputs (the signature TF Serving sees), other numbers cast.

    `fn` is traced once, for float32; the endpoint around it casts first, so
    `loaded.<name>(x)` works for a first input (`images`, `current_pa`) of any
    dtype of `_CAST_DTYPES`, and states (`step`) of float32 (as the endpoint
    returns them) or float64 (`np.zeros`). The all-float32 trace comes first: it
    is what `loaded.signatures[name]` exposes.
    """
    import tensorflow as tf

    core = tf.function(fn, input_signature=[tf.TensorSpec(s.shape, tf.float32, name=s.name) for s in specs])
    parameters = inspect.signature(fn)

    def endpoint(*args, **kwargs):
        return core(*[tf.cast(x, tf.float32) for x in parameters.bind(*args, **kwargs).args])

    endpoint.__signature__ = parameters  # the inputs keep their names (`images`, `current_pa`, ...)
    function = tf.function(endpoint)
    for first in ("float32", *_CAST_DTYPES):
        for rest in ("float32", "float64")[: 2 if len(specs) > 1 else 1]:
            dtypes = [first] + [rest] * (len(specs) - 1)
            function.get_concrete_function(*[tf.TensorSpec(s.shape, d, name=s.name) for s, d in zip(specs, dtypes)])
    archive.add_endpoint(name, function)


def _check(tensor, shape, name, finite=True):
    """Run-time checks on a request: the errors name the input (the server feeds whatever comes)."""
    import tensorflow as tf

    tensor = tf.ensure_shape(tensor, shape, name=f"check_{name}")
    if finite:  # check_numerics returns its input, so every later op waits for the check
        tensor = tf.debugging.check_numerics(tensor, message=f"{name}: contains NaN or infinity")
    return tensor


_RESULT_FIELDS = ("model", "neurons", "freeze_neurons", "protocol", "data", "epochs", "test_accuracy", "best_val_accuracy", "train_accuracy")


def _run_result(source):
    """The accuracies of the run folder `source` (its result.json), or None."""
    path = os.path.join(source, "result.json") if source and os.path.isdir(source) else None
    if not path or not os.path.exists(path):
        return None
    result = read_json(path)
    return {key: result.get(key) for key in _RESULT_FIELDS}


def export_lmnist(model, base_dir="saved_models", source=None, model_name="lmnist"):
    """Export an L-MNIST network (`build_gfr_network` or a baseline with the same outputs).

    Signature `serving_default`: `images` float32 `[batch, 28, 28]` in [0, 1] ->
    `probabilities` float32 `[batch, 10]`, `classes` int64 `[batch]`. The manifest
    records the run's test accuracy when `source` is a run folder with `result.json`.

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
        images = _check(images, [None, 28, 28], "images")
        tf.debugging.assert_greater_equal(images, 0.0, message="images: values must lie in [0, 1]")
        tf.debugging.assert_less_equal(images, 1.0, message="images: values must lie in [0, 1]")
        probabilities = model(images, training=False)["probabilities"]
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int64)}

    _add_endpoint(archive, "serving_default", serve, [spec])
    signatures = {"serving_default": {"inputs": {"images": spec}, "outputs": {"probabilities": "float32 [batch, 10]", "classes": "int64 [batch]"}}}
    manifest = {"kind": "lmnist", "source": source, "signatures": _describe(signatures), "training": _run_result(source)}
    return _write(archive, base_dir, model_name, manifest)


def _neuron_endpoints(archive, layer):
    """`simulate` and `step` of a population layer; returns their signature descriptions."""
    import tensorflow as tf

    units, n = layer.units, layer.n_traces
    # The last axis of a current is `units`, or 1 for one current shared by every neuron.
    current = tf.TensorSpec([None, None, None], tf.float32, name="current_pa")
    rate_state = tf.TensorSpec([None, units], tf.float32, name="rate_state")
    trace_state = tf.TensorSpec([None, units * n], tf.float32, name="trace_state")

    def checked_current(current_pa):
        current_pa = _check(current_pa, [None, None, None], "current_pa")
        last = tf.shape(current_pa)[-1]
        valid = tf.debugging.assert_equal(
            tf.logical_or(tf.equal(last, 1), tf.equal(last, units)), True,
            message=f"current_pa: the last axis must be {units} (one current per neuron) or 1 (one for all)",
        )
        with tf.control_dependencies([valid]):  # checked before the neurons run
            current_pa = tf.identity(current_pa)
        if units == 1:
            # The last axis is then 1 either way. Said statically, because a current of unknown
            # width broadcast with the state [batch, 1] has shape [batch, None], and the RNN's
            # loop refuses a state whose shape changes ("enters the loop with shape (None, 1)").
            current_pa = tf.ensure_shape(current_pa, [None, None, 1])
        return current_pa

    def simulate(current_pa):
        rates, _, _ = layer(checked_current(current_pa))
        return {"rate_per_ms": rates}

    def step(current_pa, rate_state, trace_state):
        states = [_check(rate_state, [None, units], "rate_state"), _check(trace_state, [None, units * n], "trace_state")]
        rates, f, h = layer(checked_current(current_pa), initial_state=states)
        return {"rate_per_ms": rates, "rate_state": f, "trace_state": h}

    _add_endpoint(archive, "simulate", simulate, [current])
    _add_endpoint(archive, "step", step, [current, rate_state, trace_state])
    rates = f"float32 [batch, time, {units}]"
    return {
        "simulate": {"inputs": {"current_pa": current}, "outputs": {"rate_per_ms": rates}},
        "step": {
            "inputs": {"current_pa": current, "rate_state": rate_state, "trace_state": trace_state},
            "outputs": {"rate_per_ms": rates, "rate_state": f"float32 [batch, {units}]", "trace_state": f"float32 [batch, {units * n}]"},
        },
    }


def export_gfr_neurons(records, dataset_path, base_dir="saved_models", model_name="gfr_neurons"):
    """Export a population of fitted neurons (dataset records of one bin size).

    Signatures, for `units = len(records)` and `n` traces:
      - `simulate`: `current_pa` float32 `[batch, time, units]` (or `[batch, time, 1]`,
        one current for every neuron) -> `rate_per_ms` `[batch, time, units]`.
      - `step`: `current_pa` plus `rate_state` `[batch, units]` and `trace_state`
        `[batch, units * n]` (zeros to start) -> `rate_per_ms`, `rate_state`,
        `trace_state`: chunk by chunk, a client gets exactly the rates of one long
        `simulate` call; the server keeps no state.
    NaN or infinite inputs are rejected with an error naming the input. The
    signatures take float32 (what TF Serving feeds); the endpoints
    (`loaded.simulate(x)`) also take float64, float16 and integers.

    The dataset JSON is copied to `<version>/assets/gfr_dataset.json` and to
    `base_dir/gfr_dataset.json` (the current one), each with its provenance sidecar
    (`gfr_dataset.provenance.json`) when it has one; the manifest says what it is.
    """
    import keras

    from gfr_keras.dataset.lookup import population_from_records
    from gfr_keras.dataset.provenance import describe_provenance, read_provenance, sidecar_path

    records = list(records)
    layer = population_from_records(records, return_sequences=True, return_state=True, name="gfr")
    layer.build((None, None, layer.units))
    archive = keras.export.ExportArchive()
    archive.track(layer)
    signatures = _neuron_endpoints(archive, layer)
    manifest = {
        "kind": "gfr_neurons",
        "cell_ids": [int(r["cell_id"]) for r in records],
        "configurations": sorted({(int(r["bin_size"]), int(r["actv_bin_size"])) for r in records}),
        "n_traces": layer.n_traces,
        "dataset": {"path": os.path.basename(os.fspath(dataset_path)), "sha256": file_sha256(dataset_path),
                    "provenance": describe_provenance(read_provenance(dataset_path))},
        "signatures": _describe(signatures),
    }
    sidecar, copied_sidecar = sidecar_path(dataset_path), os.path.join(base_dir, "gfr_dataset.provenance.json")
    files = [(dataset_path, "gfr_dataset.json")] + ([(sidecar, "gfr_dataset.provenance.json")] if os.path.exists(sidecar) else [])
    version_dir = _write(archive, base_dir, model_name, manifest, assets=files)
    for source, name in files:
        with atomic_path(os.path.join(base_dir, name)) as tmp:
            shutil.copyfile(source, tmp)
    if len(files) == 1 and os.path.exists(copied_sidecar):
        os.remove(copied_sidecar)  # an earlier dataset's: it no longer describes base_dir/gfr_dataset.json
    return version_dir

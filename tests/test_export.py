"""SavedModels for TF Serving, verified the way the server loads them."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from fixtures import BackgroundCommand, selected
from tensorflow.core.protobuf import saved_model_pb2

import gfr_keras as gk
from gfr_keras.serving.export import export_gfr_neurons, export_lmnist
from gfr_keras.network import build_gfr_network
from gfr_keras.serving.client import grpc_request, predict, rest_body, run_grpc_request, run_rest_body

ROOT = Path(__file__).resolve().parents[1]
PY_FUNC_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    network = build_gfr_network(8)
    records = gk.lookup_records(gk.SHIPPED_DATASET_PATH, gk.load_dataset(gk.SHIPPED_DATASET_PATH)[(20, 20)]["cell_id"][:3], 20, 20)
    return {
        "base": base,
        "network": network,
        "records": records,
        "lmnist": Path(export_lmnist(network, base, source="test")),
        "gfr_neurons": Path(export_gfr_neurons(records, os.fspath(gk.SHIPPED_DATASET_PATH), base)),
    }


@pytest.fixture(scope="module", autouse=True)
def fresh_processes(request, exports, tmp_path_factory):
    """The commands that need a process of their own (a server without gfr-keras, TensorFlow's `saved_model_cli`,
    `gfr export` in a fresh interpreter), started together as soon as the exports exist, so that they run beside
    this module's in-process tests. `(name -> BackgroundCommand, their folder)`; only those whose test runs."""
    folder = tmp_path_factory.mktemp("fresh_processes")
    quiet = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    commands = {}  # name: (argv, environment)
    if selected(request, "test_loads_without_gfr_keras_and_matches_keras"):
        commands["without_gfr_keras"] = ([sys.executable, "-c", _server_script(exports, folder)], quiet)
    if selected(request, "test_saved_model_cli_shows_and_runs"):
        cli = Path(sys.executable).parent / "saved_model_cli"
        np.save(folder / "cli_images.npy", images(2))
        commands["cli_show"] = ([str(cli), "show", "--dir", str(exports["gfr_neurons"]), "--all"], os.environ)
        commands["cli_run"] = ([str(cli), "run", "--dir", str(exports["lmnist"]), "--tag_set", "serve",
                                "--signature_def", "serving_default", "--inputs", f"images={folder / 'cli_images.npy'}",
                                "--outdir", str(folder / "cli_out")], os.environ)
    if selected(request, "test_gfr_export_command_in_a_fresh_process"):
        run_dir = folder / "run"
        run_dir.mkdir()
        exports["network"].save(run_dir / "best.keras")
        (run_dir / "result.json").write_text(json.dumps({"test_accuracy": 0.8125, "data": "offline", "model": "m"}))
        commands["export_command"] = ([sys.executable, "-m", "training.cli", "export", "lmnist", "--run", str(run_dir),
                                       "--out", str(folder / "sm")], quiet)
    started = {name: BackgroundCommand(argv, folder, name, cwd=ROOT, env=env) for name, (argv, env) in commands.items()}
    yield started, folder
    for command in started.values():
        command.stop()


def _server_script(exports, folder):
    """A script that loads both SavedModels as TF Serving would, without gfr-keras, and saves what they give."""
    np.save(folder / "images.npy", images())
    np.save(folder / "current.npy", currents())
    return f"""
import sys
sys.modules["gfr_keras"] = None  # the server has no gfr-keras
import numpy as np, tensorflow as tf
lmnist = tf.saved_model.load({str(exports["lmnist"])!r})
neurons = tf.saved_model.load({str(exports["gfr_neurons"])!r})
out = lmnist.signatures["serving_default"](images=tf.constant(np.load({str(folder / "images.npy")!r})))
np.save({str(folder / "probabilities.npy")!r}, out["probabilities"].numpy())
np.save({str(folder / "classes.npy")!r}, out["classes"].numpy())
rates = neurons.signatures["simulate"](current_pa=tf.constant(np.load({str(folder / "current.npy")!r})))["rate_per_ms"]
np.save({str(folder / "rates.npy")!r}, rates.numpy())
"""


def _finished(fresh_processes, name):
    """The standard output of the command `name` of `fresh_processes`, which must have succeeded."""
    code, stdout, stderr = fresh_processes[0][name].wait(timeout_s=300)
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    return stdout


def images(n=4, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 28, 28)).astype("float32")


def currents(seed=0, time=60, units=3):
    return (150 + 60 * np.random.default_rng(seed).standard_normal((2, time, units))).astype("float32")


def test_layout_manifest_and_dataset_beside(exports):
    base = exports["base"]
    assert exports["lmnist"] == base / "lmnist" / "1" and exports["gfr_neurons"] == base / "gfr_neurons" / "1"
    manifest = json.loads((exports["gfr_neurons"] / "manifest.json").read_text())
    assert manifest["cell_ids"] == [int(r["cell_id"]) for r in exports["records"]]
    assert set(manifest["signatures"]) == {"simulate", "step"}
    assert manifest["dataset"]["sha256"] and manifest["git_commit"]
    shipped = Path(os.fspath(gk.SHIPPED_DATASET_PATH)).read_bytes()
    assert (exports["gfr_neurons"] / "assets" / "gfr_dataset.json").read_bytes() == shipped
    assert (base / "gfr_dataset.json").read_bytes() == shipped


def test_a_new_export_is_a_new_version(exports, tmp_path):
    first = export_lmnist(exports["network"], tmp_path)
    second = export_lmnist(exports["network"], tmp_path)
    assert [Path(first).name, Path(second).name] == ["1", "2"]
    assert sorted(p.name for p in (tmp_path / "lmnist").iterdir()) == ["1", "2"]


def test_only_stock_ops(exports):
    for name in ("lmnist", "gfr_neurons"):
        saved = saved_model_pb2.SavedModel()
        saved.ParseFromString((exports[name] / "saved_model.pb").read_bytes())
        ops = set()
        for meta in saved.meta_graphs:
            ops |= {node.op for node in meta.graph_def.node}
            for function in meta.graph_def.library.function:
                ops |= {node.op for node in function.node_def}
        assert ops and not ops & PY_FUNC_OPS, name


def test_loads_without_gfr_keras_and_matches_keras(exports, fresh_processes):
    _finished(fresh_processes, "without_gfr_keras")
    folder = fresh_processes[1]
    expected = np.asarray(exports["network"](images())["probabilities"])
    np.testing.assert_allclose(np.load(folder / "probabilities.npy"), expected, atol=1e-6)
    assert np.load(folder / "classes.npy").dtype == np.int64
    np.testing.assert_array_equal(np.load(folder / "classes.npy"), expected.argmax(-1))
    layer = gk.population_from_records(exports["records"], return_sequences=True)
    np.testing.assert_allclose(np.load(folder / "rates.npy"), np.asarray(layer(currents())), atol=1e-6)


def test_saved_model_cli_shows_and_runs(exports, fresh_processes):
    shown_out = _finished(fresh_processes, "cli_show")
    for text in ("signature_def['simulate']", "signature_def['step']", "name: simulate_current_pa" , "DT_FLOAT", "(-1, -1, 3)", "(-1, 24)"):
        assert text in shown_out or text.replace("simulate_", "") in shown_out, text
    _finished(fresh_processes, "cli_run")
    probabilities = np.load(fresh_processes[1] / "cli_out" / "probabilities.npy")
    np.testing.assert_allclose(probabilities, np.asarray(exports["network"](images(2))["probabilities"]), atol=1e-6)


def test_rest_and_grpc_payloads(exports):
    lmnist = tf.saved_model.load(str(exports["lmnist"]))
    direct = lmnist.signatures["serving_default"](images=tf.constant(images(3)))
    via_rest = run_rest_body(lmnist, rest_body("serving_default", {"images": images(3)}))
    via_grpc = run_grpc_request(lmnist, grpc_request("lmnist", "serving_default", {"images": images(3)}))
    for out in (via_rest, via_grpc):
        np.testing.assert_allclose(out["probabilities"], direct["probabilities"].numpy(), atol=1e-6)
        np.testing.assert_array_equal(out["classes"], direct["classes"].numpy())


def test_streaming_steps_equal_one_simulate_call(exports):
    neurons = tf.saved_model.load(str(exports["gfr_neurons"]))
    current = currents(time=90)
    whole = neurons.signatures["simulate"](current_pa=tf.constant(current))["rate_per_ms"].numpy()
    rate_state, trace_state, chunks = np.zeros((2, 3), "float32"), np.zeros((2, 24), "float32"), []
    for start in range(0, 90, 25):  # uneven chunks, as a client streaming a recording would send
        body = rest_body("step", {"current_pa": current[:, start : start + 25], "rate_state": rate_state, "trace_state": trace_state})
        out = run_rest_body(neurons, body)
        chunks.append(out["rate_per_ms"])
        rate_state, trace_state = out["rate_state"], out["trace_state"]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, rtol=1e-6, atol=1e-9)


def test_bad_requests_raise_clear_errors(exports):
    neurons = tf.saved_model.load(str(exports["gfr_neurons"]))
    lmnist = tf.saved_model.load(str(exports["lmnist"]))
    errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(errors, match=r"check_current_pa.*(not compatible|shape)|Shape of tensor"):
        neurons.signatures["simulate"](current_pa=tf.constant(currents()[0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"current_pa: the last axis must be 3 \(one current per neuron\) or 1"):
        neurons.signatures["simulate"](current_pa=tf.constant(currents(units=5)))
    nan_current = currents()
    nan_current[0, 5, 1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="current_pa: contains NaN or infinity"):
        neurons.signatures["simulate"](current_pa=tf.constant(nan_current))
    nan_images = images()
    nan_images[0, 3, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: contains NaN or infinity"):
        lmnist.signatures["serving_default"](images=tf.constant(nan_images))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images: values must lie in \[0, 1\]"):
        lmnist.signatures["serving_default"](images=tf.constant(images() * 255))
    # The process is fine afterwards.
    assert neurons.signatures["simulate"](current_pa=tf.constant(currents()))["rate_per_ms"].shape == (2, 60, 3)


def test_endpoints_take_any_numbers_and_a_shared_current(exports):
    """float64 (numpy's default), float16 and integer inputs work through the loaded endpoints
    (cast to float32); [batch, time, 1] drives every neuron."""
    neurons = tf.saved_model.load(str(exports["gfr_neurons"]))
    x = np.round(currents())  # whole pA, so every dtype below holds the same values
    as_float32 = neurons.simulate(tf.constant(x))["rate_per_ms"].numpy()
    for dtype in ("float64", "int64", "int32"):
        np.testing.assert_array_equal(neurons.simulate(x.astype(dtype))["rate_per_ms"].numpy(), as_float32, err_msg=dtype)
    first = neurons.step(x[:, :30].astype("int64"), np.zeros((2, 3)), np.zeros((2, 24)))  # float64 states
    then = neurons.step(x[:, 30:], first["rate_state"], first["trace_state"])  # float32 states, as returned
    np.testing.assert_allclose(np.concatenate([first["rate_per_ms"], then["rate_per_ms"]], axis=1), as_float32, rtol=1e-6, atol=1e-9)
    shared = x[:, :, :1]
    broadcast = neurons.simulate(tf.constant(np.repeat(shared, 3, axis=2)))["rate_per_ms"].numpy()
    np.testing.assert_allclose(neurons.simulate(tf.constant(shared))["rate_per_ms"].numpy(), broadcast, rtol=1e-6)
    lmnist = tf.saved_model.load(str(exports["lmnist"]))
    expected = lmnist.serving_default(tf.constant(images()))["probabilities"].numpy()
    for dtype in ("float64", "float16"):
        got = lmnist.serving_default(images().astype(dtype))["probabilities"].numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == "float64" else 1e-2, atol=1e-3, err_msg=dtype)
    binary = (images() > 0.5).astype("uint8")
    np.testing.assert_array_equal(lmnist.serving_default(binary)["probabilities"].numpy(),
                                  lmnist.serving_default(binary.astype("float32"))["probabilities"].numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images: values must lie in \[0, 1\]"):
        lmnist.serving_default((255 * images()).astype("uint8"))  # 0-255 pixels: the error says what to send


def test_signatures_get_float32_or_an_error_naming_the_input(exports):
    """The signatures (what TF Serving feeds) take float32; the client helpers cast numbers and
    name the input they refuse, where TensorFlow itself says only "input #0 ... double tensor"."""
    neurons = tf.saved_model.load(str(exports["gfr_neurons"]))
    lmnist = tf.saved_model.load(str(exports["lmnist"]))
    x = np.round(currents())
    expected = neurons.signatures["simulate"](current_pa=tf.constant(x))["rate_per_ms"].numpy()
    for dtype in ("float64", "int64", "int32"):
        np.testing.assert_array_equal(predict(neurons, "simulate", {"current_pa": x.astype(dtype)})["rate_per_ms"], expected)
    with pytest.raises(TypeError, match=r"current_pa: expected numbers \(sent as float32\), got dtype <U"):
        predict(neurons, "simulate", {"current_pa": [[["a"]]]})
    with pytest.raises(TypeError, match="images: expected numbers"):
        predict(lmnist, "serving_default", {"images": images() > 0.5})
    with pytest.raises(ValueError, match=r"step: unknown inputs \['rate'\], missing inputs \['rate_state', 'trace_state'\]"):
        predict(neurons, "step", {"current_pa": x, "rate": x})
    with pytest.raises(KeyError, match="signature 'predict': the model has"):
        predict(neurons, "predict", {"current_pa": x})
    # REST: JSON numbers of any kind; gRPC: grpc_request sends float32 whatever it is given.
    via_rest = run_rest_body(neurons, rest_body("simulate", {"current_pa": x.astype("int64")}))
    np.testing.assert_array_equal(via_rest["rate_per_ms"], expected)
    request = grpc_request("gfr_neurons", "simulate", {"current_pa": x.astype("float64")})
    assert request.inputs["current_pa"].dtype == tf.float32.as_datatype_enum
    np.testing.assert_array_equal(run_grpc_request(neurons, request)["rate_per_ms"], expected)
    with pytest.raises(TypeError, match="images: expected numbers"):
        rest_body("serving_default", {"images": [["white"]]})
    # A request built by hand with float64 tensors: the server refuses it; the runner names the input.
    request.inputs["current_pa"].CopyFrom(tf.make_tensor_proto(x.astype("float64")))
    with pytest.raises(TypeError, match=r"current_pa: the signature 'simulate' takes float32, the request sends float64"):
        run_grpc_request(neurons, request)


def test_gfr_export_command_in_a_fresh_process(fresh_processes):
    """The command loads a saved run (its custom layers registered by `import gfr_keras`) and exports it."""
    _finished(fresh_processes, "export_command")
    folder = fresh_processes[1]
    manifest = json.loads((folder / "sm" / "lmnist" / "1" / "manifest.json").read_text())
    assert manifest["source"] == str(folder / "run") and "serving_default" in manifest["signatures"]
    assert manifest["training"]["test_accuracy"] == 0.8125  # the run's accuracy travels with the model


def test_one_neuron_exports_and_runs(exports, tmp_path):
    """A population of one cell (the last axis of every current is then 1) exports and runs,
    `simulate` and `step`, as two cells do (the 3-cell export above)."""
    record = exports["records"][:1]
    neurons = tf.saved_model.load(export_gfr_neurons(record, os.fspath(gk.SHIPPED_DATASET_PATH), tmp_path))
    current = currents(units=1)
    whole = neurons.signatures["simulate"](current_pa=tf.constant(current))["rate_per_ms"].numpy()
    layer = gk.population_from_records(record, return_sequences=True)
    np.testing.assert_allclose(whole, np.asarray(layer(current)), atol=1e-6)
    n = layer.n_traces
    out = neurons.signatures["step"](
        current_pa=tf.constant(current), rate_state=tf.zeros((2, 1)), trace_state=tf.zeros((2, n))
    )
    np.testing.assert_allclose(out["rate_per_ms"].numpy(), whole, rtol=1e-6, atol=1e-9)

"""`gfr train-network`: training, checkpoints, resume after a kill, baselines, distribution."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from fixtures import BackgroundCommand, selected

from gfr_keras.network.mnist import offline_mnist
from training.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--n-nodes", "8", "--limit", "256", "--batch-size", "64"]
#: SMALL without XLA (compiling costs about 17 s a run on 2 cores), for tests not about compilation;
#: test_trains_checkpoints_and_reports keeps the default (XLA) path.
SMALL_EAGER = [*SMALL, "--jit-compile", "off"]


@pytest.fixture(scope="module", autouse=True)
def mirrored_run(request, tmp_path_factory):
    """`gfr train-network --distribute` on two logical CPUs: its own process (the devices are set before TensorFlow
    starts), started with this module so that it runs beside the in-process tests; `(command, run folder)`."""
    if not selected(request, "test_mirrored_strategy_on_two_logical_cpus"):
        yield None
        return
    out = tmp_path_factory.mktemp("mirrored") / "run"
    code = (
        "import tensorflow as tf;"
        "cpu = tf.config.list_physical_devices('CPU')[0];"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2);"
        "from training.cli import main;"
        f"raise SystemExit(main(['train-network', '--epochs', '1', *{SMALL!r}, '--distribute', '--out', {str(out)!r}]))"
    )
    run = BackgroundCommand([sys.executable, "-c", code], out.parent, "mirrored", cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    yield run, out
    run.stop()


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_trains_checkpoints_and_reports(tmp_path):
    out = tmp_path / "run"
    assert main(["train-network", "--epochs", "2", *SMALL, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["model"] == "gfr_network_default" and result["epochs_this_run"] == 2
    assert "offline: MNIST test split" in result["data"]
    # Accuracies are counted over the 64 test digits of --limit 256 (not, e.g., over batches).
    for key in ("test_accuracy", "test_accuracy_first_step"):
        assert round(result[key] * 64, 6) == round(result[key] * 64)
    assert result["parameters"] > result["trainable_parameters"] > 0 and result["wall_time_s"] > 0
    assert result["readout_loss"] == "all" and result["beta_lr_scale"] == 1e-3 and result["alpha_lr_scale"] == 1.0
    rows = _rows(out / "history.csv")
    assert len(rows) == 2
    for row in rows:  # each epoch's wall time, its training batches a part of it
        assert 0 < float(row["train_time_s"]) <= float(row["epoch_time_s"]) < result["wall_time_s"]
    assert any((out / "logs").rglob("events.out.tfevents.*"))
    assert any((out / "logs" / "diagnostics").rglob("events.out.tfevents.*"))
    assert result["validation_images"] == 26 and result["protocol"] == "project"  # 10 % of 256, held out
    assert result["default_neuron_options"] == {"traces": "uniform", "bin_size_ms": None}  # the defaults, recorded
    diagnostics = result["diagnostics"]
    assert set(diagnostics) == {"initial", "final"} and len(diagnostics["final"]["active_fraction_readout"]) == 5
    assert set(diagnostics["final"]["rate_hz_readout_percentiles"]) == {"50", "90", "99"}
    best = keras.saving.load_model(out / "best.keras")
    x_test = offline_mnist()["test"][0][:8]
    assert best.predict(x_test, verbose=0)["probabilities"].shape == (8, 10)
    assert (out / "backup" / "training_metadata.json").exists()  # kept: a finished run can be continued


def test_baseline_uses_the_same_pipeline(tmp_path):
    out = tmp_path / "lstm"
    assert main(["train-network", "--baseline", "lstm", "--epochs", "1", *SMALL_EAGER, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["model"] == "lstm" and result["baseline"] == "lstm" and result["default_neuron_options"] is None


def test_small_biological_network_learns(tmp_path):
    """64 fitted neurons, frozen, 3 short seeded epochs: far above chance (0.1) with the neuron scaling."""
    out = tmp_path / "bio"
    argv = ["train-network", "--epochs", "3", "--n-nodes", "64", "--limit", "4000", "--batch-size", "32", "--lr", "5e-3",
            "--neurons", "biological", "--sample-with-replacement", "--freeze-neurons", "--seed", "0", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["scaling"] == "neuron" and result["test_accuracy"] >= 0.5, result["test_accuracy"]
    assert result["alpha_lr_scale"] == 1e-2  # the biological default
    # Not silent at the start: the published scaling leaves 0.2 % of image-neuron pairs active at readout; with the
    # neuron scaling the shipped 200-cell dataset starts at 15-20 % (its cells' activations start at threshold).
    assert sum(result["diagnostics"]["initial"]["active_fraction_readout"]) / 5 > 0.05


def _initial_weights(model):
    weights = {w.path.split("/")[-1]: keras.ops.convert_to_numpy(w.value) for w in model.get_layer("gfr_rnn").cell.weights}
    weights.update({f"readout_{w.path.split('/')[-1]}": keras.ops.convert_to_numpy(w.value) for w in model.get_layer("readout").weights})
    return weights


def _assert_torch_uniform(values, fan_in, name):
    """PyTorch's `nn.Linear` default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), whose sd is bound / sqrt(3)."""
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(values).max() <= bound, name
    if values.size >= 640:  # enough draws to see the distribution's shape
        assert np.abs(values).max() > 0.97 * bound, name  # fills the interval
        assert abs(values.std() - bound / np.sqrt(3)) < 0.06 * bound, name
        assert abs(values.mean()) < 0.05 * bound, name


def test_reference_initialisation_is_the_published_one():
    """N1: `training_protocol="reference"` draws every projection and bias as the published `torch.nn.Linear` layers.

    Published `Network`: fc1 (28 -> units), fc2 (units -> units), fc3 (units -> 10), all PyTorch's default
    U(+-1/sqrt(fan_in)) for weights and biases; default neurons alpha = (4, 0, 0, 0). `BiologicalGFRNetwork`
    redraws fc1's weight from N(1.5, 3). Each draw is independent (no weight is a copy of another's values).
    """
    import gfr_keras as gk
    from gfr_keras.network.model import build_gfr_network

    units = 64
    default = _initial_weights(build_gfr_network(units=units, training_protocol="reference"))
    fan_in = {"input_kernel": 28, "input_bias": 28, "recurrent_kernel": units, "recurrent_bias": units,
              "readout_kernel": units, "readout_bias": units}
    for name, fan in fan_in.items():
        _assert_torch_uniform(default[name], fan, name)
    np.testing.assert_array_equal(default["alpha"], np.tile([4.0, 0.0, 0.0, 0.0], (units, 1)))
    assert not default["beta"].any()
    drawn = [default[name].ravel() for name in fan_in]
    for i, a in enumerate(drawn):
        for b in drawn[i + 1 :]:
            assert np.isin(a, b).mean() < 0.01  # independent draws, not copies of one stream

    biological = _initial_weights(build_gfr_network(units=units, training_protocol="reference", neuron_kind="biological",
                                                    dataset=gk.SHIPPED_DATASET_PATH))
    w_in = biological["input_kernel"]  # 28 x 64 = 1792 draws of N(1.5, 3): standard errors 0.07 (mean), 0.05 (sd)
    assert abs(w_in.mean() - 1.5) < 0.3 and abs(w_in.std() - 3.0) < 0.3
    for name, fan in fan_in.items():
        if name != "input_kernel":
            _assert_torch_uniform(biological[name], fan, name)


def test_reference_protocol_runs(tmp_path):
    out = tmp_path / "reference"
    assert main(["train-network", "--epochs", "1", *SMALL_EAGER, "--neurons", "biological", "--protocol", "reference",
                 "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["protocol"] == "reference" and result["alpha_lr_scale"] == 1.0  # plain Adam, as published
    model = keras.saving.load_model(out / "best.keras")
    assert model.optimizer.epsilon_placement == "pytorch" and model.optimizer.multipliers == {"beta": 1.0, "alpha": 1.0}


#: Four epochs of about 30 batches each: long enough to be killed between epochs, short to rerun.
KILLED_RUN = ["train-network", "--epochs", "4", "--n-nodes", "16", "--limit", "1000", "--batch-size", "32",
              "--jit-compile", "off"]


def _train(out):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "training.cli", *KILLED_RUN, "--out", str(out)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_run_resumes_where_it_stopped(tmp_path, capsys):
    out = tmp_path / "run"
    process = _train(out)
    deadline = time.time() + 300
    # An epoch is done once its backup is written (after its history row, so a kill between them repeats the epoch).
    while time.time() < deadline and not (out / "backup" / "training_metadata.json").exists():
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    done = len(_rows(out / "history.csv"))
    assert 1 <= done < 4, "the run was not killed mid-way"
    assert (out / "backup").exists()
    capsys.readouterr()
    # Only the killed run needs its own process; the rerun works here, as `gfr train-network` would.
    assert main([*KILLED_RUN, "--out", str(out)]) == 0
    output = capsys.readouterr().out
    assert "Epoch 1/4" not in output and "Epoch 4/4" in output, output
    epochs = [int(row["epoch"]) for row in _rows(out / "history.csv")]
    assert epochs == list(range(4))


def test_mirrored_strategy_on_two_logical_cpus(mirrored_run):
    run, out = mirrored_run
    code, stdout, stderr = run.wait(timeout_s=600)
    assert code == 0, stdout + stderr
    assert json.loads((out / "result.json").read_text())["replicas"] == 2


def test_bad_inputs_are_named(tmp_path, capsys):
    assert main(["train-network", "--data-dir", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "missing train-images-idx3-ubyte[.gz]" in capsys.readouterr().err
    assert main(["train-network", "--neurons", "biological", "--n-nodes", "256", "--out", str(tmp_path / "y")]) == 2
    assert "fewer than the 256 neurons asked for (--n-nodes)" in capsys.readouterr().err
    assert main(["train-network", "--configuration", "20", "--out", str(tmp_path / "z"), *SMALL_EAGER]) == 2
    assert "--configuration: expected bin,activation-bin" in capsys.readouterr().err
    assert main(["train-network", "--beta-lr-scale", "0", "--out", str(tmp_path / "w"), *SMALL_EAGER]) == 2
    assert "argument --beta-lr-scale: expected a finite number > 0, got '0'" in capsys.readouterr().err


def test_batches_have_one_shape_each():
    """Training batches all of `batch_size` (the remainder waits for a later epoch's shuffle); validation in equal
    batches of at most 1,024: each extra shape costs a compiled step."""
    from gfr_keras.network.mnist import even_batch_size, make_dataset

    images, labels = np.zeros((150, 28, 28), "float32"), np.arange(150) % 10
    shapes = [int(x.shape[0]) for x, _ in make_dataset(images, labels, 64, drop_remainder=True)]
    assert shapes == [64, 64]
    seen = np.concatenate([y.numpy() for _, y in make_dataset(images, labels, 150, shuffle=False)])
    assert seen.tolist() == labels.tolist()
    assert [even_batch_size(n) for n in (1, 800, 1024, 1025, 6000)] == [1, 800, 1024, 513, 1000]
    # Autotuning off: its thread made deleting an iterator (every epoch, in `fit`) wait up to 2 s with the cores idle.
    assert make_dataset(images, labels, 64).options().autotune.enabled is False


def test_histograms_are_what_tensorflow_writes(tmp_path):
    """`write_histogram` (numpy's bins) writes the buckets and plugin TensorBoard reads from `tf.summary.histogram`."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gfr_keras.network.train import write_histogram

    rates = np.random.default_rng(0).gamma(2.0, 10.0, size=(40, 5, 30))
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=3):
        tf.summary.histogram("tensorflow", rates.ravel(), buckets=30)
        write_histogram("numpy", rates, 3)
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    written = {tag: events.Tensors(tag)[0] for tag in ("tensorflow", "numpy")}
    assert [event.step for event in written.values()] == [3, 3]
    expected, ours = (tf.make_ndarray(written[tag].tensor_proto) for tag in ("tensorflow", "numpy"))
    assert ours.shape == (30, 3) and ours[:, 2].sum() == rates.size
    np.testing.assert_allclose(ours, expected, rtol=1e-9)
    assert events.summary_metadata["numpy"].plugin_data == events.summary_metadata["tensorflow"].plugin_data


def test_padded_prediction_counts_only_the_real_digits():
    """`_accuracies` pads the last batch with zero images; the accuracy is that of the real digits alone."""
    from gfr_keras.network.train import _accuracies, build_model

    model = build_model(8, seed=0, jit_compile=False)
    images, labels = offline_mnist()["test"]
    images, labels = images[:70], labels[:70]
    predicted = np.argmax(model.predict(images, batch_size=70, verbose=0)["probabilities"], axis=1)
    expected = float(np.mean(predicted == labels))
    assert _accuracies(model, images, labels, ["probabilities"], batch_size=32) == [expected]


def test_the_callers_callbacks_see_every_epoch_and_batch(tmp_path):
    import keras

    from gfr_keras.network.mnist import load_mnist
    from gfr_keras.network.train import build_model, train_lmnist

    class Count(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_epoch_begin(self, epoch, logs=None):
            self.batches.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.batches[-1] += 1

    count = Count()
    data = load_mnist(limit=400)
    result = train_lmnist(build_model(8, baseline="simple_rnn"), data, tmp_path / "run", epochs=2, batch_size=32,
                          callbacks=[count])
    train_images = len(data["train"][1]) - result["validation_images"]
    assert count.batches == [train_images // 32] * 2  # whole batches only (drop_remainder)

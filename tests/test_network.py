"""The line-by-line MNIST network of GFR neurons, and its data."""

import gzip
import hashlib

import keras
import numpy as np
import pytest

import gfr_keras as gk
from gfr_keras.network.mnist import (
    OFFICIAL_MD5,
    OFFLINE_MNIST_DIR,
    load_idx_folder,
    offline_mnist,
    read_idx,
    validate_images,
)
from gfr_keras.network import (
    AppendZeroSteps,
    GFRNetworkCell,
    ReadoutCrossentropy,
    ReadoutSteps,
    build_gfr_network,
    compile_network,
    network_targets,
    sample_records,
)
from gfr_keras.network.default_neurons import default_neuron_settings
from gfr_keras.optimizers import ScaledAdam

pytestmark = pytest.mark.backend_agnostic


def test_shipped_mnist_is_the_official_test_split():
    for name, md5 in OFFICIAL_MD5.items():
        assert hashlib.md5((OFFLINE_MNIST_DIR / name).read_bytes()).hexdigest() == md5
    data = offline_mnist()
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(np.unique(y_test)) == set(range(10))
    again = offline_mnist()
    np.testing.assert_array_equal(again["test"][1], y_test)  # deterministic split
    assert "8,000 train / 2,000 test" in data["label"]


def test_idx_reader_errors_name_the_file(tmp_path):
    good = read_idx(OFFLINE_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert good.shape == (10000,)
    truncated = tmp_path / "t10k-labels-idx1-ubyte.gz"
    truncated.write_bytes(gzip.compress(gzip.decompress((OFFLINE_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())[:100]))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: truncated"):
        read_idx(truncated)
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad-idx: not an IDX file"):
        read_idx(bad)
    with pytest.raises(ValueError, match="missing train-images-idx3-ubyte\\[.gz\\], train-labels-idx1-ubyte\\[.gz\\], t10k-images"):
        load_idx_folder(tmp_path)


def test_image_validation():
    with pytest.raises(ValueError, match=r"images: expected shape \[n, 28, 28\]"):
        validate_images(np.zeros((2, 28, 27), np.float32))
    with pytest.raises(ValueError, match=r"images: expected values in \[0, 1\]"):
        validate_images(np.full((2, 28, 28), 255.0, np.float32))
    assert validate_images(np.full((1, 28, 28), 255, np.uint8)).max() == 1.0


def test_readout_layers():
    x = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)
    assert np.asarray(AppendZeroSteps(2)(x)).shape == (2, 5, 4)
    np.testing.assert_array_equal(np.asarray(AppendZeroSteps(2)(x))[:, 3:], 0.0)
    logits = np.random.default_rng(0).normal(size=(2, 9, 10)).astype("float32")
    first, readout, probabilities = ReadoutSteps(3, 5)(logits)
    np.testing.assert_allclose(np.asarray(first), logits[:, 3])
    np.testing.assert_allclose(np.asarray(readout), logits[:, 3:8])
    softmax = np.exp(logits[:, 3:8]) / np.exp(logits[:, 3:8]).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(probabilities), softmax.mean(1), rtol=1e-5)


def test_default_neurons_follow_the_spec():
    """With the spec's traces (`traces=fast`, what `training_protocol="reference"` uses) the neurons are spec section 8's."""
    model = build_gfr_network(8, scaling_options={"traces": "fast"})
    reference = build_gfr_network(8, training_protocol="reference").get_layer("gfr_rnn").cell
    np.testing.assert_array_equal(np.asarray(reference.neurons.alpha), np.tile([4.0, 0, 0, 0], (8, 1)))
    cell = model.get_layer("gfr_rnn").cell.neurons
    np.testing.assert_allclose(np.asarray(cell.decay_rates), [1.0, 0.6321, 0.3935, 0.1813])
    np.testing.assert_array_equal(np.asarray(cell.alpha), np.tile([4.0, 0, 0, 0], (8, 1)))
    np.testing.assert_array_equal(np.asarray(cell.beta), 0.0)
    g = cell.activation
    np.testing.assert_array_equal(np.asarray(g.poly_coeff), np.tile([0.0, 1.0], (8, 1)))
    out = model(np.random.default_rng(0).uniform(size=(3, 28, 28)).astype("float32"))
    assert out["logits"].shape == (3, 10) and out["probabilities"].shape == (3, 10)
    np.testing.assert_allclose(np.asarray(out["probabilities"]).sum(-1), 1.0, rtol=1e-5)
    # What a run records: the published scaling builds these neurons whatever the options say.
    assert default_neuron_settings({"traces": "uniform"}, "reference") == {"traces": "fast", "bin_size_ms": None}
    assert default_neuron_settings({"bin_size_ms": 20}) == {"traces": "uniform", "bin_size_ms": 20}


def test_default_neurons_spread_the_drive_over_every_trace(tmp_path):
    """The network's default neurons: alpha = lam (every trace carries the drive, G = mean(alpha / lam) = 1),
    projections scaled so one row still reaches mean(h) as its current; the options round-trip and are checked."""
    model = build_gfr_network(8)
    cell = model.get_layer("gfr_rnn").cell
    lam = np.asarray(cell.neurons.decay_rates)
    alpha = np.asarray(cell.neurons.alpha)
    np.testing.assert_allclose(alpha, np.tile(lam, (8, 1)), rtol=1e-6)
    np.testing.assert_allclose(np.mean(alpha / lam, axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cell.input_scale) * np.mean(alpha, axis=-1), 1.0, rtol=1e-6)
    path = tmp_path / "default.keras"
    model.save(path)
    x = np.random.default_rng(1).uniform(size=(2, 28, 28)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(path)(x)["probabilities"], model(x)["probabilities"], rtol=1e-5, atol=1e-6)
    slow = build_gfr_network(8, scaling_options={"bin_size_ms": "20"}).get_layer("gfr_rnn").cell.neurons
    assert min(np.asarray(slow.decay_rates)) == pytest.approx(0.00995, rel=1e-3)
    with pytest.raises(ValueError, match=r"default neurons: unknown \['centre_drive'\]"):
        build_gfr_network(8, scaling_options={"centre_drive": False})
    with pytest.raises(ValueError, match="traces: expected 'fast' or 'uniform', got 'slow'"):
        build_gfr_network(8, scaling_options={"traces": "slow"})


def test_biological_neurons_scale_inputs_and_come_from_the_dataset():
    records = sample_records(gk.SHIPPED_DATASET_PATH, 6, seed=3)
    model = build_gfr_network(6, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, seed=3, scaling="reference")
    cell = model.get_layer("gfr_rnn").cell
    got = cell.neurons.get_params()
    for mine, record in zip(got, records):
        np.testing.assert_allclose(mine["a"], record["params"]["a"], rtol=1e-6)
    max_current = np.array([r["params"]["g"]["max_current"][0] for r in records])
    np.testing.assert_allclose(np.asarray(cell.input_scale), max_current / 28, rtol=1e-6)
    assert cell.recurrent_scale == pytest.approx(1 / 6)
    n_cells = len(gk.load_dataset(gk.SHIPPED_DATASET_PATH)[(20, 20)])
    with pytest.raises(ValueError, match=rf"dataset: {n_cells} cells at configuration \(20, 20\), fewer than the {n_cells + 1} neurons"):
        build_gfr_network(n_cells + 1, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH)


def test_neuron_scaling_starts_each_neuron_at_its_threshold_and_round_trips(tmp_path):
    """At zero input and rest, mean(h) = b for every fitted neuron; the options travel in the config."""
    model = build_gfr_network(6, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, seed=3)
    cell = model.get_layer("gfr_rnn").cell
    assert cell.rest_state and cell.recurrent_rates == "normalized"
    f0, h0 = cell.get_initial_state(2)
    mean_h = np.asarray(h0).reshape(2, 6, -1).mean(-1)
    threshold = np.asarray(cell.neurons.activation.threshold_pa)
    np.testing.assert_allclose(mean_h[0], threshold, rtol=1e-4)
    # The readout reads rates in Hz.
    assert model.get_layer("readout_rates").factors == 1000.0
    x = np.random.default_rng(0).uniform(size=(3, 28, 28)).astype("float32")
    path = tmp_path / "bio.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again(x)["probabilities"], model(x)["probabilities"], rtol=1e-5, atol=1e-6)
    off = build_gfr_network(6, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, seed=3,
                            scaling_options={"centre_drive": False, "rest_state": False, "readout_rates": "normalized"})
    assert off.get_layer("gfr_rnn").cell.drive_offset == 0.0
    # "normalized": rates as fractions of each neuron's gamma.
    gamma = np.asarray(off.get_layer("gfr_rnn").cell.neurons.activation.max_firing_rate_per_ms)
    np.testing.assert_allclose(off.get_layer("readout_rates").factors, 1 / gamma, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown"):
        build_gfr_network(6, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, scaling_options={"bogus": 1})


def test_sampling_with_replacement_uses_every_cell_of_the_dataset():
    frame = gk.load_dataset(gk.SHIPPED_DATASET_PATH)[(20, 20)]
    n = 20 * len(frame)  # more draws than cells: every cell is drawn (misses one with probability ~ len(frame) e^-20)
    records = sample_records(gk.SHIPPED_DATASET_PATH, n, replace=True, seed=1)
    ids = [record["cell_id"] for record in records]
    assert len(ids) == n and set(ids) <= set(frame["cell_id"]) and len(set(ids)) == len(frame)
    assert ids == [record["cell_id"] for record in sample_records(gk.SHIPPED_DATASET_PATH, n, replace=True, seed=1)]
    model = build_gfr_network(30, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, sample_with_replacement=True)
    assert model.get_layer("gfr_rnn").cell.neurons.units == 30

@pytest.mark.parametrize("freeze_neurons, freeze_activation", [(True, False), (False, True)])
def test_freezing_really_freezes(freeze_neurons, freeze_activation):
    model = compile_network(build_gfr_network(8, freeze_neurons=freeze_neurons, freeze_activation=freeze_activation), 1e-2)
    cell = model.get_layer("gfr_rnn").cell
    before = {w.path: np.array(w) for w in model.weights}
    x = np.random.default_rng(0).uniform(size=(16, 28, 28)).astype("float32")
    y = np.arange(16) % 10
    model.fit(x, network_targets(y), epochs=2, batch_size=8, verbose=0)
    frozen = [cell.neurons.activation.poly_coeff, cell.neurons.activation.threshold_pa]
    if freeze_neurons:
        frozen += [cell.neurons.alpha, cell.neurons.beta]
    for weight in frozen:
        np.testing.assert_array_equal(np.array(weight), before[weight.path])
    np.testing.assert_raises(AssertionError, np.testing.assert_array_equal, np.array(cell.input_kernel), before[cell.input_kernel.path])
    if not freeze_neurons:
        assert not np.array_equal(np.array(cell.neurons.alpha), before[cell.neurons.alpha.path])


def test_network_reloads_with_identical_predictions(tmp_path):
    model = build_gfr_network(6, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, freeze_activation=True)
    model.save(tmp_path / "net.keras")
    loaded = keras.saving.load_model(tmp_path / "net.keras")
    x = np.random.default_rng(1).uniform(size=(4, 28, 28)).astype("float32")
    for key in ("logits", "readout_logits", "probabilities"):
        np.testing.assert_array_equal(np.asarray(loaded(x)[key]), np.asarray(model(x)[key]))
    assert not loaded.get_layer("gfr_rnn").cell.neurons.activation.trainable


def test_network_loop_matches_a_plain_keras_rnn():
    """The fast loop (weights read once, 3-D traces) computes what keras.layers.RNN computes."""
    model = build_gfr_network(7, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, seed=2)
    fast = model.get_layer("gfr_rnn")
    plain = keras.layers.RNN(GFRNetworkCell.from_config(fast.cell.get_config()), return_sequences=True)
    x = np.random.default_rng(2).uniform(size=(3, 33, 28)).astype("float32")
    plain(x)
    plain.set_weights(fast.get_weights())
    np.testing.assert_allclose(np.asarray(fast(x)), np.asarray(plain(x)), rtol=1e-4, atol=1e-6)  # float32 op order


def test_training_loop_skips_the_input_steps_gradient_only():
    """`trained_from_step`: in a compiled training step the rows run without keeping their rates for the backward
    pass; the network's outputs, every step's rates and the loss gradients are those of the single loop."""
    model = build_gfr_network(7, neuron_kind="biological", dataset=gk.SHIPPED_DATASET_PATH, seed=3)
    rnn = model.get_layer("gfr_rnn")
    assert rnn.trained_from_step == 28 and rnn.get_config()["trained_from_step"] == 28
    x = np.random.default_rng(3).uniform(size=(4, 28, 28)).astype("float32")
    results = []
    for split in (28, None):
        rnn.trained_from_step = split
        results.append(_compiled_training_step(model, x, np.arange(4)))
    (rates, logits, gradients), (rates_single, logits_single, gradients_single) = results
    assert rates.shape == (4, 33, 7)
    np.testing.assert_allclose(rates, rates_single, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(logits, logits_single, rtol=1e-6, atol=1e-9)
    assert len(gradients) == len(model.trainable_weights) and all(np.any(g != 0) for g in gradients)
    for gradient, single in zip(gradients, gradients_single):
        np.testing.assert_allclose(gradient, single, rtol=1e-5, atol=1e-7 * np.abs(single).max())


def _compiled_training_step(model, x, labels):
    """Every step's rates, the readout logits and the 5-step loss gradients, in training mode under XLA."""
    every_step = keras.Model(model.input, {"rates": model.get_layer("gfr_rnn").output, **model.output})

    def forward():
        outputs = every_step(x, training=True)
        return ReadoutCrossentropy()(labels, outputs["readout_logits"]), (outputs["rates"], outputs["readout_logits"])

    if keras.backend.backend() == "jax":
        import jax

        def stateless(values):
            with keras.StatelessScope(state_mapping=list(zip(model.trainable_weights, values))):
                return forward()

        values = [w.value for w in model.trainable_weights]
        gradients, (rates, logits) = jax.jit(jax.grad(stateless, has_aux=True))(values)
    else:
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step():
            with tf.GradientTape() as tape:
                loss, aux = forward()
            return tape.gradient(loss, model.trainable_weights), aux

        gradients, (rates, logits) = step()
    return np.asarray(rates), np.asarray(logits), [np.asarray(g) for g in gradients]


def test_readout_loss_all_averages_the_five_steps():
    logits = np.random.default_rng(3).normal(size=(4, 5, 10)).astype("float32")
    labels = np.array([1, 2, 3, 4])
    per_step = [keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits[:, k]) for k in range(5)]
    np.testing.assert_allclose(float(ReadoutCrossentropy()(labels, logits)), np.mean(per_step), rtol=1e-5)
    model = compile_network(build_gfr_network(6), 1e-2, readout_loss="all")
    x = np.random.default_rng(0).uniform(size=(8, 28, 28)).astype("float32")
    y = np.arange(8) % 10
    expected = float(ReadoutCrossentropy()(y, model(x)["readout_logits"]))
    assert model.evaluate(x, network_targets(y), verbose=0, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="readout_loss: expected one of"):
        compile_network(build_gfr_network(6), readout_loss="last")


def test_beta_learns_at_a_scaled_rate():
    """One Adam step moves beta and alpha by lr * their scales, every other trained weight by about lr."""
    model = compile_network(build_gfr_network(6), 1e-2, beta_learning_rate_scale=1e-3, alpha_learning_rate_scale=0.1)
    assert isinstance(model.optimizer, ScaledAdam)
    cell = model.get_layer("gfr_rnn").cell
    x = np.random.default_rng(4).uniform(size=(8, 28, 28)).astype("float32")
    before = {w.path: np.array(w) for w in model.trainable_weights}
    model.train_on_batch(x, network_targets(np.arange(8) % 10))
    beta_step = np.abs(np.array(cell.neurons.beta) - before[cell.neurons.beta.path]).max()
    alpha_step = np.abs(np.array(cell.neurons.alpha) - before[cell.neurons.alpha.path]).max()
    assert beta_step == pytest.approx(1e-5, rel=1e-2)  # Adam's first step: lr * scale * sign(gradient)
    assert alpha_step == pytest.approx(1e-3, rel=1e-2)
    config = model.optimizer.get_config()
    assert ScaledAdam.from_config(config).multipliers == {"beta": 1e-3, "alpha": 0.1}


def test_scaled_adam_places_epsilon_as_pytorch():
    """`epsilon_placement="pytorch"`: w -= lr m_hat / (sqrt(v_hat) + eps), as torch.optim.Adam."""
    variable = keras.Variable(np.array([1.0, -2.0], "float32"), name="w")
    optimizer = ScaledAdam(0.1, epsilon=1e-3, epsilon_placement="pytorch")
    gradient = np.array([1e-3, 0.5], "float32")
    w, m, v = variable.numpy().astype(float), np.zeros(2), np.zeros(2)
    for t in range(1, 4):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
        m, v = 0.9 * m + 0.1 * gradient, 0.999 * v + 0.001 * gradient**2
        w = w - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-3)
    np.testing.assert_allclose(variable.numpy(), w, rtol=1e-5)

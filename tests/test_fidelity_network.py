"""The published network experiments the project adds: permuted networks (N7), pixel-by-pixel MNIST (N8)."""

import json

import keras
import numpy as np
import pytest

from gfr_keras.network.mnist import load_mnist, pixel_sequences
from gfr_keras.network.permuted import permuted_network
from training.cli import main

SMALL = ["--limit", "256", "--batch-size", "64", "--jit-compile", "off"]


def test_pixel_sequences_resize_to_24x24_bilinear_and_read_row_by_row():
    """N8 by hand: a horizontal ramp 0, 9, ..., 243 resized 28 -> 24 by PIL's (widened) bilinear filter.

    Scale 28/24 = 7/6, so the triangle filter is 7/6 pixels wide. Output column 0
    (centre 7/12) weighs input columns 0 and 1 by 13/16 and 3/16: 9 * 3/16 = 1.69 -> 2.
    Output column 12 (centre 14.58) weighs columns 13, 14, 15 by 1/17, 13/17, 3/17:
    9 * (13 + 182 + 45) / 17 = 127.06 -> 127.
    """
    ramp = np.tile(np.arange(28, dtype=np.float32) * 9 / 255, (28, 1))
    sequences = pixel_sequences(np.stack([ramp, ramp.T]))
    assert sequences.shape == (2, 576, 1) and sequences.dtype == np.float32
    horizontal, vertical = sequences[0, :, 0] * 255, sequences[1, :, 0] * 255
    np.testing.assert_allclose(horizontal[[0, 12, 24, 24 + 12]], [2, 127, 2, 127], atol=1e-4)  # row 0, then row 1
    np.testing.assert_allclose(vertical[[0, 12 * 24, 12 * 24 + 5]], [2, 127, 127], atol=1e-4)  # step 288 = row 12
    np.testing.assert_allclose(pixel_sequences(np.full((1, 28, 28), 0.4, np.float32)), np.round(0.4 * 255) / 255, atol=1e-7)


def test_a_tiny_network_trains_pixel_by_pixel(tmp_path):
    data = load_mnist(limit=8, variant="p")
    assert data["train"][0].shape == (8, 576, 1) and "pixel-by-pixel" in data["label"]
    out = tmp_path / "run"
    assert main(["train-network", "--variant", "p", "--epochs", "1", "--n-nodes", "4", "--limit", "64", "--batch-size", "32",
                 "--jit-compile", "off", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["variant"] == "p" and "first 64 / 16 images, pixel-by-pixel" in result["data"]
    assert keras.saving.load_model(out / "best.keras").input.shape[1:] == (576, 1)


def test_a_pixel_by_pixel_network_learns_a_task_576_steps_long():
    """N8's network learns: 24x24 images read one pixel a step, class 1 with its last two rows bright.

    A learnable task (the class is in the pixels, 48 steps before the readout, behind 528 noisy ones), a fixed
    seed, and held-out images: chance is 0.5, the untrained network is far from 1, and the trained one at 1.0
    (0.9 leaves room for another backend's rounding).
    """
    from gfr_keras.network import build_gfr_network, compile_network, network_targets

    rng = np.random.default_rng(0)

    def images(n):
        pixels = rng.uniform(0.0, 0.2, (n, 576, 1)).astype("float32")
        labels = np.arange(n) % 2
        pixels[labels == 1, -48:, 0] += 0.8
        return pixels, labels

    (train, train_labels), (test, test_labels) = images(64), images(32)
    model = build_gfr_network(units=8, rows=576, row_size=1, seed=0)
    compile_network(model, learning_rate=3e-2, jit_compile=False)
    accuracy = lambda: float(np.mean(model.predict(test, verbose=0)["probabilities"].argmax(axis=1) == test_labels))
    before = accuracy()
    history = model.fit(train, network_targets(train_labels), batch_size=4, epochs=6, verbose=0, shuffle=False).history
    assert before < 0.6 and accuracy() >= 0.9, (before, history)
    assert history["loss"][-1] < 0.25 * history["loss"][0]


def _weights(model):
    cell = model.get_layer("gfr_rnn").cell
    return {w.path.split("/")[-1]: keras.ops.convert_to_numpy(w.value) for w in cell.weights}, cell


def test_permuted_network_resamples_trained_neurons_with_fresh_projections(tmp_path):
    """N7: neuron i of the permuted network is trained neuron idx[i] (alpha, beta, g, its scaling); wires are new."""
    source = tmp_path / "trained"
    # Biological neurons under the neuron scaling: per-neuron input scales and offsets that must move with them.
    assert main(["train-network", "--neurons", "biological", "--freeze-activation", "--n-nodes", "12", "--epochs", "1",
                 *SMALL, "--out", str(source)]) == 0
    trained = keras.saving.load_model(source / "best.keras")
    old, old_cell = _weights(trained)
    model, indices = permuted_network(source, seed=3)
    new, new_cell = _weights(model)
    assert len(set(indices.tolist())) < 12  # drawn with replacement (this seed repeats some)
    for name in ("alpha", "beta", "threshold_pa", "poly_coeff", "max_current_pa", "max_firing_rate_per_ms",
                 "input_scale", "drive_offset_pa"):
        np.testing.assert_array_equal(new[name], old[name][indices], err_msg=name)
    assert not np.allclose(new["input_kernel"], old["input_kernel"])
    assert not np.allclose(new["recurrent_kernel"], old["recurrent_kernel"])
    trainable = {w.path.split("/")[-1] for w in model.trainable_weights}
    assert not trainable & {"alpha", "beta", "threshold_pa", "poly_coeff"}  # frozen neurons

    out = tmp_path / "permuted"
    assert main(["train-network", "--neurons-from", str(source), "--epochs", "1", *SMALL, "--seed", "3", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["neurons_from"] == str(source)
    after, _ = _weights(keras.saving.load_model(out / "best.keras"))
    np.testing.assert_array_equal(after["alpha"], old["alpha"][indices])  # neurons untouched by training
    assert not np.allclose(after["input_kernel"], new["input_kernel"])  # the projections trained


def test_neurons_from_must_be_a_gfr_network(tmp_path):
    with pytest.raises(FileNotFoundError, match="best.keras"):
        permuted_network(tmp_path)

"""`UnitAdam`: PyTorch's Adam per unit, with an active mask; `ScaledAdam` stays Keras' Adam."""

import keras
import numpy as np
import pytest

from gfr_keras.optimizers import ScaledAdam, UnitAdam

pytestmark = pytest.mark.backend_agnostic


def torch_adam(w, grads, lr, eps=1e-8, beta_1=0.9, beta_2=0.999):
    """The published optimizer's maths (torch.optim.Adam), float64."""
    m = v = 0.0
    for t, g in enumerate(grads, 1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        w = w - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps)
    return w


def test_unit_adam_steps_each_unit_at_its_own_rate_with_torch_epsilon():
    w = keras.Variable(np.zeros((3, 2), "float32"), name="w")
    rates = [1e-2, 1e-3, 1e-4]
    optimizer = UnitAdam(1.0, unit_learning_rates=rates, epsilon=1e-3)  # a large eps shows where it goes
    grads = [np.array([[1e-3, -2e-3]] * 3, "float32") * k for k in (1.0, 0.5, 2.0)]
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [w])
    for unit, lr in enumerate(rates):
        expected = torch_adam(0.0, [g[unit].astype(float) for g in grads], lr, eps=1e-3)
        np.testing.assert_allclose(np.asarray(w)[unit], expected, rtol=1e-4)


def test_inactive_units_stay_put_and_the_config_round_trips():
    w = keras.Variable(np.ones((2, 3), "float32"), name="beta")
    optimizer = UnitAdam(1.0, unit_learning_rates=[0.1, 0.1], multipliers={"beta": 0.5})
    optimizer.build([w])
    optimizer.active.assign(np.array([1.0, 0.0], "float32"))
    optimizer.apply([keras.ops.ones((2, 3))], [w])
    np.testing.assert_allclose(np.asarray(w), [[0.95] * 3, [1.0] * 3], rtol=1e-5)  # 0.1 * 0.5 * sign(g)
    config = optimizer.get_config()
    clone = UnitAdam.from_config(config)
    assert clone.unit_learning_rates == pytest.approx([0.1, 0.1]) and clone.multipliers == {"beta": 0.5}
    assert clone.torch_epsilon and keras.saving.get_registered_object("gfr_keras>UnitAdam") is UnitAdam
    with pytest.raises(ValueError, match="first axis"):
        UnitAdam(1.0, unit_learning_rates=[0.1, 0.1, 0.1]).build([w])


def test_scaled_adam_without_multipliers_is_keras_adam():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=(4, 3)).astype("float32") for _ in range(4)]
    trained = []
    for optimizer in (ScaledAdam(1e-2), keras.optimizers.Adam(1e-2)):
        w = keras.Variable(start)
        for g in grads:
            optimizer.apply([keras.ops.convert_to_tensor(g)], [w])
        trained.append(np.asarray(w))
    np.testing.assert_array_equal(trained[0], trained[1])
    assert "unit_learning_rates" not in ScaledAdam(1e-2).get_config()

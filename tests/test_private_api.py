"""The private Keras/TensorFlow/JAX API that gfr_keras._private_api wraps is still where and what it was.

Each test names the entry that moved, so that a Keras, TensorFlow or JAX
upgrade which breaks one fails here, with the fix's place, before it fails
deep inside a layer or an optimizer.
"""

import importlib
import inspect

import keras
import numpy as np
import pytest

from gfr_keras import _private_api


def moved(entry, detail):
    """Fail naming the private entry, the installed versions and where to fix it."""
    pytest.fail(
        f"private API moved: {entry} ({detail}) under keras {keras.__version__}; "
        f"gfr_keras/_private_api.py uses it (its comment says why); update it there",
        pytrace=False,
    )


def require_attribute(owner, owner_name, name):
    if not hasattr(owner, name):
        moved(f"{owner_name}.{name}", "attribute not found")
    return getattr(owner, name)


def require_parameters(entry, function, names):
    if not callable(function):
        moved(entry, f"not callable: {type(function).__name__}")
    parameters = inspect.signature(function).parameters
    missing = [name for name in names if name not in parameters]
    if missing:
        moved(entry, f"no parameter(s) {missing}; signature is {inspect.signature(function)}")


@pytest.mark.backend_agnostic
def test_keras_backend_rnn_is_the_backend_loop_with_the_arguments_the_layers_pass():
    backend = importlib.import_module("keras.src.backend")
    rnn = require_attribute(backend, "keras.src.backend", "rnn")
    require_parameters(
        "keras.src.backend.rnn", rnn,
        ("step_function", "inputs", "initial_states", "go_backwards", "mask", "unroll", "input_length",
         "zero_output_for_mask", "return_all_outputs"),
    )
    assert _private_api.backend_rnn is rnn

    def running_sum(x_t, states):
        total = states[0] + x_t
        return total, [total]

    inputs = keras.ops.convert_to_tensor(np.arange(6, dtype="float32").reshape(1, 3, 2))
    last, outputs, states = _private_api.backend_rnn(running_sum, inputs, [keras.ops.zeros((1, 2))], input_length=3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), [[[0, 1], [2, 4], [6, 9]]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(last), [[6, 9]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(states[0]), [[6, 9]])


@pytest.mark.backend_agnostic
def test_adam_keeps_its_moments_by_variable_index():
    for name in ("_get_variable_index", "_backend_update_step"):
        require_attribute(keras.optimizers.Adam, "keras.optimizers.Adam", name)
    require_parameters(
        "keras.optimizers.Adam._backend_update_step", keras.optimizers.Adam._backend_update_step,
        ("grads", "trainable_variables", "learning_rate"),
    )
    variables = [keras.Variable(np.zeros(2, "float32"), name="a"), keras.Variable(np.zeros(3, "float32"), name="b")]
    for amsgrad in (False, True):
        optimizer = keras.optimizers.Adam(0.1, amsgrad=amsgrad)
        optimizer.build(variables)
        for name in ("_momentums", "_velocities") + (("_velocity_hats",) if amsgrad else ()):
            slots = require_attribute(optimizer, "keras.optimizers.Adam (built)", name)
            if len(slots) != len(variables):
                moved(f"keras.optimizers.Adam.{name}", f"{len(slots)} entries for {len(variables)} variables")
        gradient = np.array([1.0, -2.0, 4.0], "float32")
        optimizer.apply([keras.ops.zeros(2), keras.ops.convert_to_tensor(gradient)], variables)
        assert _private_api.variable_index(optimizer, variables[1]) == 1
        m, v, v_hat = _private_api.adam_slots(optimizer, variables[1])
        np.testing.assert_allclose(np.asarray(m), (1 - 0.9) * gradient, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(v), (1 - 0.999) * gradient**2, rtol=1e-5)
        assert (v_hat is None) == (not amsgrad)


@pytest.mark.backend_agnostic
def test_the_update_step_hook_runs_once_per_step_after_every_variable():
    seen = []

    class Recording(_private_api.UpdateStepHook, keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            seen.append("variable")
            super().update_step(gradient, variable, learning_rate)

        def after_update_step(self):
            seen.append("after")

    variables = [keras.Variable(np.ones(2, "float32")), keras.Variable(np.ones(3, "float32"))]
    optimizer = Recording(0.5)
    for _ in range(2):
        optimizer.apply([keras.ops.ones(2), keras.ops.ones(3)], variables)
    if seen.count("after") != 2:
        moved("keras Optimizer._backend_update_step", f"the hook ran {seen.count('after')} times in 2 steps")
    assert seen == ["variable", "variable", "after"] * 2
    np.testing.assert_allclose(np.asarray(variables[0]), [0.0, 0.0])


def test_tensorflow_says_whether_a_trace_is_for_xla():
    tf = pytest.importorskip("tensorflow")
    try:
        control_flow_util = importlib.import_module("tensorflow.python.ops.control_flow_util")
    except ImportError as error:
        moved("tensorflow.python.ops.control_flow_util", f"{error}; tensorflow {tf.__version__}")
    check = require_attribute(control_flow_util, "tensorflow.python.ops.control_flow_util", "GraphOrParentsInXlaContext")
    require_parameters("control_flow_util.GraphOrParentsInXlaContext", check, ("graph",))

    def answer(x):
        return x + float(_private_api.tensorflow_xla_context_active())

    one = tf.constant(0.0)
    assert float(tf.function(answer, jit_compile=True)(one)) == 1.0
    assert float(tf.function(answer, jit_compile=False)(one)) == 0.0
    assert float(answer(one)) == 0.0


@pytest.mark.backend_agnostic
def test_jax_tracers_are_recognised():
    jax = pytest.importorskip("jax")
    if not isinstance(getattr(jax.core, "Tracer", None), type):
        moved("jax.core.Tracer", f"not a class in jax {jax.__version__} (the class-name fallback still runs)")
    seen = []

    def record(x):
        seen.append(_private_api.jax_traced(x))
        return x

    jax.jit(record)(np.float32(1.0))
    assert seen == [True]
    assert not _private_api.jax_traced(np.float32(1.0))

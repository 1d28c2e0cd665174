"""Every use of private Keras, TensorFlow and JAX API in gfr-keras, in one place.

Each entry says why no public API serves. When a Keras, TensorFlow or JAX
upgrade moves one of them, tests/test_private_api.py fails and names the entry;
fix it here and nowhere else. The rest of the package imports these names and
never reaches into `keras.src`, `tensorflow.python` or a leading-underscore
attribute of a Keras object itself.
"""

import keras

# `keras.src.backend.rnn`: the backend time loop that Keras' own RNN layers (SimpleRNN,
# GRU, LSTM) run through, with masking, unrolling and `return_all_outputs`. Keras 3
# exports no public alias (`keras.ops` has `scan`, without masks or the RNN state layout),
# and a `keras.layers.RNN.inner_loop` override has to call it to stay on Keras' own loop.
from keras.src.backend import rnn as backend_rnn

__all__ = ["UpdateStepHook", "adam_slots", "backend_rnn", "tensorflow_xla_context_active", "jax_traced"]


def tensorflow_xla_context_active():
    """Whether TensorFlow is now tracing a function for XLA (`tf.function(jit_compile=True)`).

    TensorFlow has no public API that says whether the function being traced is
    compiled; `control_flow_util.GraphOrParentsInXlaContext` is how TensorFlow's
    own ops ask. Should a later TensorFlow move it, this answers False (callers
    then take their slower path with the same outputs).
    """
    import tensorflow as tf

    try:
        from tensorflow.python.ops import control_flow_util

        return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
    except (ImportError, AttributeError):
        return False


def jax_traced(value):
    """Whether `value` is a JAX tracer (Keras' JAX trainer traces its steps with `jax.jit`).

    JAX exports no stable predicate for "inside a trace"; `jax.core.Tracer` is the
    class of every traced value (kept in `jax.core` for compatibility, its home is
    `jax._src.core`). Where that alias is gone, the class name is the fallback.
    """
    import jax

    tracer = getattr(jax.core, "Tracer", None)
    return isinstance(value, tracer) if tracer is not None else type(value).__name__.endswith("Tracer")


def adam_slots(optimizer, variable):
    """`(first moment, second moment, max second moment or None)` of `variable` in a built `keras.optimizers.Adam`.

    An Adam subclass that changes the update maths (`gfr_keras.optimizers.UnitAdam`)
    must read and assign the moments Adam keeps; Keras exposes them only as the
    flat `optimizer.variables` list, whose order is an implementation detail, so
    this reads Adam's private per-variable lists by the variable's private index.
    The third slot exists only with `amsgrad=True`.
    """
    index = variable_index(optimizer, variable)
    velocity_hat = optimizer._velocity_hats[index] if optimizer.amsgrad else None
    return optimizer._momentums[index], optimizer._velocities[index], velocity_hat


def variable_index(optimizer, variable):
    """The position of `variable` among the variables `optimizer` was built with.

    Inside `update_step` the TensorFlow backend passes the raw `tf.Variable`, which
    has no Keras path; Keras' private `_get_variable_index` maps either kind.
    """
    return optimizer._get_variable_index(variable)


class UpdateStepHook:
    """Mixin for a `keras.optimizers.Optimizer` subclass: `after_update_step()` runs after each update of all variables.

    Keras calls `update_step` once per variable and exposes no hook after the
    last one. Overriding the public `apply` would count steps that update
    nothing: `apply` returns early without gradients, runs the updates under a
    condition with gradient accumulation and, under a TensorFlow distribution
    strategy, merges them across replicas, all before or around its private
    `_backend_update_step`. So a counter that must advance exactly when the
    variables do advances there. List the mixin before the optimizer class.
    """

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        super()._backend_update_step(grads, trainable_variables, learning_rate)
        self.after_update_step()

    def after_update_step(self):
        """Runs after every variable's `update_step` of one optimizer step; override it."""

"""Where fitting meets the Keras backend: a stateless training step that Keras's backend compiles.

A population's variables are carried between steps as values (`Population`);
one step is `layer.stateless_call` for the loss, the backend's gradient, and
`optimizer.stateless_apply` for the update. `compile_function` hands the step
to the backend's compiler: `jax.jit` under JAX, `tf.function` (XLA optional)
under TensorFlow. Everything else in `gfr_keras.fitting` is `keras.ops` and numpy.
"""

import keras
import numpy as np
from keras import ops


def compile_function(fn, jit_compile=True):
    """`fn` compiled for the current backend (`jit_compile` only matters under TensorFlow; JAX always uses XLA)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=bool(jit_compile), reduce_retracing=True)
    raise NotImplementedError(f"fitting runs under the tensorflow and jax Keras backends, not {backend!r}")


def tensor(x, unit_axis=-1):
    """A numpy array as a backend tensor, placed once (not every step): see `place`."""
    return place(ops.convert_to_tensor(np.asarray(x)), unit_axis)


def place(x, unit_axis):
    """`x` sharded along `unit_axis` over the active Keras distribution's device mesh (JAX only).

    With `keras.distribution.set_distribution(...)` (e.g. `DataParallel()` over
    every device Keras lists) the unit axis of the population's variables and
    data is split over the mesh's first axis; units never interact, so each
    device steps its own cells and only the scalar objective is summed across.
    Without a distribution, or a unit count the mesh does not divide, `x` stays
    on the default device.
    """
    distribution = keras.distribution.distribution()
    if distribution is None or keras.backend.backend() != "jax" or not len(x.shape):
        return x
    mesh = distribution.device_mesh
    if x.shape[unit_axis] % mesh.shape[0]:
        return x
    axes = [None] * len(x.shape)
    axes[unit_axis] = mesh.axis_names[0]
    return keras.distribution.distribute_tensor(x, keras.distribution.TensorLayout(axes, mesh))


class Population:
    """A built layer and its optimizer, trained by compiled steps; the one backend switch of fitting.

    Under JAX the variables travel as values, `state = (trainable, non_trainable,
    optimizer_variables)`: a step is `layer.stateless_call`, `jax.value_and_grad`
    and `optimizer.stateless_apply`, all under `jax.jit`. Under TensorFlow (whose
    Keras optimizers refuse `stateless_apply`) a step is Keras' own TF recipe: a
    `tf.function` with a `GradientTape` and `optimizer.apply` on the variables.
    The loss functions are the same: `fn(trainable, non_trainable, *args)`.
    """

    def __init__(self, layer, optimizer):
        self.layer, self.optimizer = layer, optimizer
        optimizer.build(layer.trainable_variables)
        self.stateless = keras.backend.backend() == "jax"
        units = layer.trainable_variables[0].shape[0]
        # The unit axis is every variable's first; scalars (the step count) and the rest are left whole.
        values = lambda variables: [
            place(ops.convert_to_tensor(v), 0) if v.shape and v.shape[0] == units else ops.convert_to_tensor(v)
            for v in variables
        ]
        self.state = None
        if self.stateless:
            self.state = (values(layer.trainable_variables), values(layer.non_trainable_variables), values(optimizer.variables))

    def _variables(self):
        return self.state[:2] if self.stateless else (self.layer.trainable_variables, self.layer.non_trainable_variables)

    def function(self, fn, jit_compile=True):
        """`fn(trainable, non_trainable, *args)` compiled, called as `f(*args)` on the current variables."""
        if self.stateless:
            compiled = compile_function(fn, jit_compile)
            return lambda *args: compiled(*self.state[:2], *args)
        return compile_function(lambda *args: fn(*self._variables(), *args), jit_compile)

    def train_step(self, loss_fn, jit_compile=True):
        """`step(*batch) -> aux`: one optimizer step on `loss_fn(trainable, non_trainable, *batch) -> (objective, aux)`."""
        optimizer = self.optimizer
        if self.stateless:
            import jax

            gradient_of = jax.value_and_grad(loss_fn, has_aux=True)

            def stateless_step(state, *batch):
                trainable, non_trainable, optimizer_variables = state
                (_, aux), grads = gradient_of(trainable, non_trainable, *batch)
                trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
                return aux, (list(trainable), list(non_trainable), list(optimizer_variables))

            compiled = compile_function(stateless_step, jit_compile)

            def step(*batch):
                aux, self.state = compiled(self.state, *batch)
                return aux

            return step
        import tensorflow as tf

        variables = self.layer.trainable_variables

        def stateful_step(*batch):
            with tf.GradientTape() as tape:
                objective, aux = loss_fn(*self._variables(), *batch)
            optimizer.apply(tape.gradient(objective, variables), variables)
            return aux

        return compile_function(stateful_step, jit_compile)

    def set_active(self, active):
        """Freeze (0) or step (1) each unit: the optimizer's `active` mask."""
        active = np.asarray(active, "float32")
        if self.stateless:
            self.state[2][self.optimizer.active_index] = tensor(active, 0)
        else:
            self.optimizer.active.assign(active)

    def write_back(self):
        """Leave the trained values in the layer's variables."""
        if self.stateless:
            for variable, value in zip(self.layer.trainable_variables, self.state[0]):
                variable.assign(value)

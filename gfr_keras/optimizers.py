"""Adam with per-variable and per-unit learning rates, for populations and networks of GFR neurons.

`UnitAdam` holds the Adam maths once; `ScaledAdam` (networks) is `UnitAdam`
with Keras' epsilon placement and no unit axis. Both are ordinary
`keras.optimizers.Adam` subclasses written with `keras.ops`, so they run on
every backend, inside `model.fit` or through `stateless_apply` in a jitted step.
"""

import keras
import numpy as np
from keras import ops

from gfr_keras._private_api import UpdateStepHook, adam_slots, variable_index


@keras.saving.register_keras_serializable(package="gfr_keras")
class UnitAdam(UpdateStepHook, keras.optimizers.Adam):
    """Adam with a step size per unit, per-variable multipliers and a per-unit on/off mask.

    For population fitting every trainable variable's FIRST axis is the unit axis
    (one unit = one neuron of one learning-rate run). Unit `u` of variable `w`
    moves by::

        learning_rate * unit_learning_rates[u] * multipliers[w] * active[u] * adam_direction

    `adam_direction` is PyTorch's by default (`torch_epsilon=True`: eps added to
    the bias-corrected root, `m_hat / (sqrt(v_hat) + eps)`, as the published
    fits used), or Keras' (`m_hat / (sqrt(v) + eps)` folded into the step size).
    An inactive unit is paused: its variables, moments and step count (the
    bias corrections use each unit's own count) stay as they are. So a cell that
    sits out a batch (it has no sweeps of that stimulus) follows exactly the
    trajectory it would follow alone, stepping only on the batches it has, as
    the published per-cell loop does; an early-stopped or failed unit stays put.

    Args:
        learning_rate: global step size (1.0 when `unit_learning_rates` carries
            the actual rates).
        unit_learning_rates: one factor per unit, or None (no unit axis; then
            `active` does not exist).
        multipliers: `{variable name: factor}`; a variable matches when the last
            part of its path (e.g. `beta`) equals the key.
        torch_epsilon: where epsilon goes (see above).
        **kwargs: any other `Adam` argument (`beta_1`, `epsilon`, `global_clipnorm`, ...).

    Attributes:
        active: after `build`, a non-trainable optimizer variable `[units]` of
            1.0 (stepping) / 0.0 (frozen); assign it, or replace its value in the
            `stateless_apply` state (`active_index`).
    """

    def __init__(self, learning_rate=0.001, unit_learning_rates=None, multipliers=None, torch_epsilon=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.unit_learning_rates = None if unit_learning_rates is None else [float(x) for x in np.ravel(unit_learning_rates)]
        self.multipliers = {str(name): float(factor) for name, factor in (multipliers or {}).items()}
        self.torch_epsilon = bool(torch_epsilon)
        self._factors = None
        self.active = self.unit_lr = self.unit_steps = None

    @property
    def units(self):
        return None if self.unit_learning_rates is None else len(self.unit_learning_rates)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Looked up once here: inside update_step the TensorFlow backend passes the
        # raw tf.Variable, which has no Keras path.
        self._factors = [self.multipliers.get(variable.path.split("/")[-1], 1.0) for variable in variables]
        if self.units is not None:
            wrong = [v.path for v in variables if not v.shape or v.shape[0] != self.units]
            if wrong:
                raise ValueError(f"UnitAdam: {self.units} unit learning rates, but the first axis of {wrong} is not {self.units}")
            rates = np.asarray(self.unit_learning_rates, "float32")
            self.unit_lr = self.add_variable((self.units,), "zeros", name="unit_lr")
            self.unit_lr.assign(rates)
            self.active = self.add_variable((self.units,), "ones", name="active")
            self.unit_steps = self.add_variable((self.units,), "zeros", name="unit_steps")

    @property
    def active_index(self):
        """Position of `active` in `self.variables` (the `stateless_apply` state)."""
        return next(i for i, v in enumerate(self.variables) if v is self.active)

    def _step_scale(self, variable, learning_rate):
        """`learning_rate * multiplier`, times `unit_lr * active` broadcast over the unit axis."""
        factor = self._factors[variable_index(self, variable)]
        scale = learning_rate * factor if factor != 1.0 else learning_rate
        if self.units is None:
            return scale
        return scale * self._per_unit(self.unit_lr * self.active, variable)

    def _per_unit(self, values, variable):
        """A `[units]` vector shaped to broadcast over `variable` (unit axis first)."""
        return ops.reshape(ops.cast(values, variable.dtype), (-1,) + (1,) * (len(variable.shape) - 1))

    def after_update_step(self):
        if self.units is not None:  # after every variable's update: count this step for the active units
            self.assign_add(self.unit_steps, self.active)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        if self.units is None:
            step = ops.cast(self.iterations + 1, dtype)
        else:
            step = self._per_unit(self.unit_steps + 1, variable)
        correction_1 = 1 - ops.power(ops.cast(self.beta_1, dtype), step)
        correction_2 = 1 - ops.power(ops.cast(self.beta_2, dtype), step)
        m, v, v_hat = adam_slots(self, variable)
        if self.torch_epsilon:  # the published loop's form of the moment updates
            new_m = self.beta_1 * m + (1 - self.beta_1) * gradient
            new_v = self.beta_2 * v + (1 - self.beta_2) * ops.square(gradient)
        else:  # Keras' form, so ScaledAdam steps exactly as keras.optimizers.Adam
            new_m = m + ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1)
            new_v = v + ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2)
        if self.units is not None:  # a paused unit keeps its moments
            paused = self._per_unit(self.active, variable) <= 0
            # `.value`: under JAX's stateless_apply a bare variable in ops.where reads its stored, not its current, value.
            new_m, new_v = ops.where(paused, m.value, new_m), ops.where(paused, v.value, new_v)
        self.assign(m, new_m)
        self.assign(v, new_v)
        if self.amsgrad:
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        scale = self._step_scale(variable, ops.cast(learning_rate, dtype))
        if self.torch_epsilon:  # m_hat / (sqrt(v_hat) + eps)
            self.assign_sub(variable, scale * ((m / correction_1) / (ops.sqrt(v) / ops.sqrt(correction_2) + self.epsilon)))
        else:  # Keras: the bias corrections folded into the step size, eps added to sqrt(v)
            alpha = scale * ops.sqrt(correction_2) / correction_1
            self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self):
        return {
            **super().get_config(),
            "unit_learning_rates": self.unit_learning_rates,
            "multipliers": dict(self.multipliers),
            "torch_epsilon": self.torch_epsilon,
        }


@keras.saving.register_keras_serializable(package="gfr_keras")
class ScaledAdam(UnitAdam):
    """`keras.optimizers.Adam` whose step size is multiplied, per variable, by a factor chosen by name.

    Why: a GFR neuron's rate feedback enters as `1000 * beta * f` (spec section 1;
    the 1000 turns 1/ms into Hz). Adam moves every variable by about the learning
    rate per step whatever its gradient, so one step changes the feedback 1000x
    more than the same step changes any other weight; a network whose neurons are
    trained with plain Adam at 1e-3 saturates or silences its neurons within a
    few batches and stays at chance (docs/benchmarks.md). `multipliers={"beta": 1e-3}`
    gives the feedback the same effective step as the input weights.

    `UnitAdam` with Keras' epsilon placement and no unit axis.

    Args:
        learning_rate: as for Adam.
        multipliers: `{variable name: factor}`; a variable matches when its name
            (the last part of its path, e.g. `beta`) equals the key.
        epsilon_placement: `"keras"` (Keras: `epsilon` added to `sqrt(v)` before
            the bias correction) or `"pytorch"` (`torch.optim.Adam`: added to
            `sqrt(v_hat)` after it, i.e. Keras' form with `epsilon * sqrt(1 - beta_2^t)`).
        **kwargs: any other `Adam` argument (`global_clipnorm`, `beta_1`, `epsilon`, ...).
    """

    def __init__(self, learning_rate=0.001, multipliers=None, epsilon_placement="keras", **kwargs):
        if epsilon_placement not in ("keras", "pytorch"):
            raise ValueError(f"epsilon_placement: expected 'keras' or 'pytorch', got {epsilon_placement!r}")
        kwargs.pop("unit_learning_rates", None)
        kwargs.pop("torch_epsilon", None)
        super().__init__(
            learning_rate=learning_rate, multipliers=multipliers, torch_epsilon=epsilon_placement == "pytorch", **kwargs
        )
        self.epsilon_placement = epsilon_placement

    def get_config(self):
        config = super().get_config()
        del config["unit_learning_rates"], config["torch_epsilon"]
        return {**config, "epsilon_placement": self.epsilon_placement}

"""Adam with per-variable learning-rate multipliers, for networks of GFR neurons."""

import keras


@keras.saving.register_keras_serializable(package="gfr_keras")
class ScaledAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose step size is multiplied, per variable, by a factor chosen by name.

    Why: a GFR neuron's rate feedback enters as `1000 * beta * f` (spec section 1;
    the 1000 turns 1/ms into Hz). Adam moves every variable by about the learning
    rate per step whatever its gradient, so one step changes the feedback 1000x
    more than the same step changes any other weight; a network whose neurons are
    trained with plain Adam at 1e-3 saturates or silences its neurons within a
    few batches and stays at chance (docs/benchmarks.md). `multipliers={"beta": 1e-3}`
    gives the feedback the same effective step as the input weights.

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
        super().__init__(learning_rate=learning_rate, **kwargs)
        if epsilon_placement not in ("keras", "pytorch"):
            raise ValueError(f"epsilon_placement: expected 'keras' or 'pytorch', got {epsilon_placement!r}")
        self.epsilon_placement = epsilon_placement
        self.multipliers = {str(name): float(factor) for name, factor in (multipliers or {}).items()}
        self._factors = None

    def build(self, variables):
        super().build(variables)
        # Looked up once here: inside update_step the TensorFlow backend passes the
        # raw tf.Variable, which has no Keras path.
        self._factors = [self.multipliers.get(variable.path.split("/")[-1], 1.0) for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factors[self._get_variable_index(variable)]
        if factor != 1.0:
            learning_rate = learning_rate * factor
        if self.epsilon_placement == "keras":
            return super().update_step(gradient, variable, learning_rate)
        epsilon = self.epsilon
        step = keras.ops.cast(self.iterations + 1, variable.dtype)
        # Read by Adam.update_step while it is traced: the per-step epsilon of PyTorch's placement.
        self.epsilon = epsilon * keras.ops.sqrt(1 - keras.ops.power(keras.ops.cast(self.beta_2, variable.dtype), step))
        try:
            return super().update_step(gradient, variable, learning_rate)
        finally:
            self.epsilon = epsilon

    def get_config(self):
        return {**super().get_config(), "multipliers": dict(self.multipliers), "epsilon_placement": self.epsilon_placement}

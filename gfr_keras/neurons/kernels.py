"""A neuron's alpha and beta as kernels over time, the way people read them."""

import numpy as np


def kernel_over_time(weights, decay_rates, steps):
    """`k(t) = sum_i w_i (1 - lam_i)^t` for t = 0 .. steps-1 bins.

    Args:
        weights: `[n]` alpha or beta of one neuron.
        decay_rates: `[n]` lambda_i per bin.
        steps: number of bins.

    Returns:
        `[steps]` float64: the response, `t` bins later, to a unit impulse of
        current (alpha, per pA) or of the neuron's own rate (beta, per 1/ms).
    """
    t = np.arange(steps)[:, None]
    return (np.asarray(weights, np.float64)[None, :] * (1.0 - np.asarray(decay_rates, np.float64))[None, :] ** t).sum(axis=1)

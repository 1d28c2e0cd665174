"""allensdk's GLIF neuron (LIF with after-spike currents) for many sweeps at once.

The GLIF bank (`synthetic.py`) runs one configuration of allensdk's
`GlifNeuron` per cell: linear forward-Euler voltage, exponential after-spike
currents, a fixed threshold, reset to zero with after-spike currents summed, and
`spike_cut_length` samples skipped after each spike. `GlifNeuron.run` steps one
sweep in Python (about 15 us a sample); here every sweep of every cell steps
together, one numpy operation per sample over all of them. Each operation is
the one `GlifNeuron` does, in the same order, so voltages and spike times are
the same to the last bit (tests/test_glif_batch.py checks them against
`GlifNeuron` itself).
"""

import numpy as np

# The methods of `synthetic.glif_config`; a configuration with others is refused.
_METHODS = {
    "AScurrent_dynamics_method": "exp",
    "voltage_dynamics_method": "linear_forward_euler",
    "threshold_dynamics_method": "inf",
    "AScurrent_reset_method": "sum",
    "voltage_reset_method": "zero",
    "threshold_reset_method": "inf",
}


def _row_constants(config):
    """The per-sweep constants `GlifNeuron.from_dict(config)` computes, as it computes them."""
    for key, name in _METHODS.items():
        if config[key]["name"] != name:
            raise ValueError(f"{key}: the batch GLIF runs {name!r}, the configuration asks for {config[key]['name']!r}")
    if config.get("coeffs"):
        raise ValueError("coeffs: the batch GLIF runs the default coefficients (all 1)")
    k = 1.0 / np.array(config["asc_tau_array"])
    cut = config["spike_cut_length"]
    return {
        "El": config["El"], "dt": config["dt"], "G": 1.0 / config["R_input"], "C": config["C"], "threshold": config["th_inf"],
        "decay": np.exp(-k * config["dt"]), "carry": np.exp(-(k * config["dt"] * cut)),
        "amp": np.array(config["asc_amp_array"]) * np.ones(len(k)),
        "r": np.array(config["AScurrent_reset_method"]["params"]["r"]), "cut": cut,
        "v0": config["init_voltage"], "asc0": np.array(config["init_AScurrents"], dtype=np.float64),
    }


def run_glif_sweeps(configs, currents_pa):
    """Simulate sweep `i` (current `currents_pa[i]`, pA) with GLIF configuration `configs[i]`.

    Returns:
        per sweep, a dict with `voltage` (V above rest, NaN inside a spike cut, as
        `GlifNeuron.run`), `spike_time_steps` and `grid_spike_times` (s).
    """
    rows = [_row_constants(c) for c in configs]
    if len({row["dt"] for row in rows}) > 1:
        raise ValueError("dt: every sweep of a batch must have the same time step")
    lengths = np.array([len(c) for c in currents_pa])
    n_rows, n_steps = len(rows), int(lengths.max(initial=0))
    inj = np.zeros((n_rows, n_steps))
    for i, current in enumerate(currents_pa):
        inj[i, : lengths[i]] = np.asarray(current, dtype=np.float64) * 1e-12  # A, as the bank gives GlifNeuron
    constant = {key: np.array([row[key] for row in rows]) for key in ("El", "G", "C", "threshold", "decay", "carry", "amp", "r", "cut", "v0")}
    dt = rows[0]["dt"] if rows else 0.0
    voltage_out = np.full((n_rows, n_steps), np.nan)
    v, asc = constant["v0"].astype(np.float64), np.array([row["asc0"] for row in rows]).reshape(n_rows, -1)
    skip = np.zeros(n_rows, dtype=np.int64)  # samples still inside a spike cut
    spikes = [[] for _ in rows]
    for t in range(n_steps):
        active = (skip == 0) & (t < lengths)
        skip[skip > 0] -= 1
        asc_next = asc * constant["decay"]
        v_next = v + (inj[:, t] + asc.sum(axis=1) - constant["G"] * (v - constant["El"])) * dt / constant["C"]
        spiking = active & (v_next > constant["threshold"])
        calm = active & ~spiking
        v[calm], asc[calm] = v_next[calm], asc_next[calm]
        voltage_out[calm, t] = v_next[calm]
        for i in np.flatnonzero(spiking):
            spikes[i].append(t)
            asc[i] = constant["amp"][i] + asc_next[i] * constant["r"][i] * constant["carry"][i]
            v[i], n = 0.0, constant["cut"][i]
            if t + n < lengths[i]:
                voltage_out[i, t + n] = 0.0  # the reset voltage, recorded at the end of the cut
            skip[i] = n
    return [
        {"voltage": voltage_out[i, : lengths[i]], "spike_time_steps": np.array(steps, dtype=np.int64),
         "grid_spike_times": np.array([step * dt for step in steps], dtype=np.float64)}
        for i, steps in enumerate(spikes)
    ]

"""A vectorised integrate-and-fire neuron with real action potentials (the synthetic bank's model).

Why this model (and not allensdk's `GlifNeuron`): Allen's feature extractor
measures threshold, peak, fast trough and upstroke/downstroke from the voltage
trace, and the bank must reach each source cell's rheobase, f-I slope, input
resistance, time constant, resting potential and fast trough at once. GLIF has
no spike shape (the voltage is cut, then reset), so it cannot give a fast
trough or an upstroke/downstroke ratio, and its reset rule makes every cell
fall far below rest after a spike. AdEx has a spike upswing but an
instantaneous reset (infinite downstroke). Conductance-based models reach all
features only after a costly per-cell optimisation. This model keeps GLIF's
cheap, linear subthreshold core and adds what the extractor looks at:

* membrane: leaky integrator at rest `e_l_mv` with the cell's input resistance
  `r_mohm` and time constant `tau_ms` below rest, and a second resistance
  `r_dep_mohm` and time constant `tau_dep_ms` above rest, so that
  hyperpolarising steps give the measured Ri and tau while the spike threshold
  sits where the rheobase puts it. The two sides need not share a capacitance:
  the depolarised side stands in for a nonlinear membrane (as in exponential
  integrate-and-fire), whose steady state near threshold sets the rheobase
  while strong steps still charge it at about the resting time constant;
* spike: when V reaches the threshold, a stereotyped action potential: a
  half-cosine rise from the crossing voltage to `v_peak_mv` in `rise_ms`, a
  half-cosine fall to the fast trough `v_trough_mv` in `fall_ms` (their ratio
  sets upstroke/downstroke), then integration goes on from the trough;
* threshold adaptation (GLIF-style): each spike raises the threshold by
  `d_theta_fast_mv` (decaying with `tau_theta_fast_ms`: sets the firing rate and
  f-I slope) and `d_theta_slow_mv` (`tau_theta_slow_ms`: spike-frequency
  adaptation);
* refractory period: no spike starts within `refractory_ms` of the previous
  spike's onset (the spike's own shape included), whatever the threshold and
  the current. Without it a cell whose threshold sits a few mV above its fast
  trough fires again as soon as the spike shape ends, near 1 kHz, which no real
  cell does; with it no cell can exceed 1000 / `refractory_ms` Hz;
* after-hyperpolarisation (AHP): each spike adds `g_ahp_ns` to a conductance
  towards `e_ahp_mv` (a potassium reversal) that decays with `tau_ahp_ms`. It
  sets the firing rate without raising the threshold: the threshold stays at
  realistic voltages, so strong steps reach it within milliseconds (first-spike
  latency), and the conductance never pulls the voltage below `e_ahp_mv`;
* intrinsic noise: an Ornstein-Uhlenbeck current (`noise_sd_pa`,
  `noise_tau_ms`), different in every sweep: repeated sweeps differ.

Integration is exact for the linear membrane over each sample (current held
over the sample), at the recording's sampling interval. `simulate` advances
every trace (all cells x sweeps) at once, one numpy step per sample;
`simulate_reference` is the same model written plainly for one trace (the
test compares them).
"""

import math

import numpy as np

#: Per-trace parameters (arrays of shape [n_traces]); see the module docstring.
PARAMETERS = (
    "e_l_mv", "r_mohm", "r_dep_mohm", "tau_ms", "tau_dep_ms", "theta_inf_mv", "v_peak_mv", "v_trough_mv",
    "rise_ms", "fall_ms", "d_theta_fast_mv", "tau_theta_fast_ms", "d_theta_slow_mv",
    "tau_theta_slow_ms", "g_ahp_ns", "tau_ahp_ms", "e_ahp_mv", "noise_sd_pa", "noise_tau_ms", "refractory_ms",
)
_CHUNK = 4096  # samples simulated between bookkeeping (noise draws, finished traces)
_CHUNK_VALUES = 2_000_000  # at most this many trace-samples per chunk (memory)


def spike_template(params, dt_ms):
    """The action potential as `V = a[k] * v_cross + b[k]`, k = samples from the crossing.

    Returns `(a, b, length)`: `a`, `b` `[n_traces, max_length]` and `length` `[n_traces]` (int).
    """
    rise = np.maximum(np.round(params["rise_ms"] / dt_ms), 1).astype(int)
    fall = np.maximum(np.round(params["fall_ms"] / dt_ms), 1).astype(int)
    length = rise + fall + 1
    k = np.arange(length.max())[None, :]
    x = np.clip(k / rise[:, None], 0.0, 1.0)
    y = np.clip((k - rise[:, None]) / fall[:, None], 0.0, 1.0)
    up = 0.5 * (1.0 - np.cos(np.pi * x))
    down = 0.5 * (1.0 - np.cos(np.pi * y))
    peak, trough = params["v_peak_mv"][:, None], params["v_trough_mv"][:, None]
    rising = k <= rise[:, None]
    a = np.where(rising, 1.0 - up, 0.0)
    b = np.where(rising, peak * up, peak - (peak - trough) * down)
    return a, b, length


def _constants(params, dt_ms):
    """Per-step decay factors and OU noise kick size."""
    return {
        "decay_rest": np.exp(-dt_ms / params["tau_ms"]),
        "decay_dep": np.exp(-dt_ms / params["tau_dep_ms"]),
        "decay_fast": np.exp(-dt_ms / params["tau_theta_fast_ms"]),
        "decay_slow": np.exp(-dt_ms / params["tau_theta_slow_ms"]),
        "decay_ahp": np.exp(-dt_ms / params["tau_ahp_ms"]),
        "decay_noise": np.exp(-dt_ms / params["noise_tau_ms"]),
        "kick_pa": params["noise_sd_pa"] * np.sqrt(1.0 - np.exp(-2.0 * dt_ms / params["noise_tau_ms"])),
        "refractory_samples": refractory_samples(params["refractory_ms"], dt_ms),
    }


def refractory_samples(refractory_ms, dt_ms):
    """Samples from a spike's onset before the next may start (rounded up: never shorter than asked)."""
    return np.ceil(np.asarray(refractory_ms, dtype=np.float64) / dt_ms - 1e-9).astype(np.int64)


def _take(params, rows):
    return {key: value[rows] for key, value in params.items()}


def simulate(params, currents_pa, dt_ms, rngs, return_voltage=True):
    """Simulate every trace at once.

    Args:
        params: dict of `PARAMETERS`, each an array `[n_traces]`.
        currents_pa: list of `n_traces` 1-D arrays (pA, one value per sample; any lengths).
        dt_ms: sampling interval.
        rngs: one `numpy.random.Generator` per trace for its intrinsic noise (one
            standard normal per sample, drawn in order: a trace's noise does not
            depend on the other traces), or one Generator for all (drawn per
            chunk of samples, `[active traces, chunk]`).
        return_voltage: False skips the voltage traces (calibration needs only spikes).

    Returns:
        `(voltages_mv, spike_samples)`: lists of `n_traces` arrays (float32 voltage per
        sample, or None; int64 sample index of each threshold crossing).
    """
    n = len(currents_pa)
    lengths = np.array([len(c) for c in currents_pa])
    order = np.argsort(-lengths, kind="stable")  # longest first: active traces are a prefix
    p = {key: np.asarray(params[key], dtype=np.float64)[order] for key in PARAMETERS}
    c = _constants(p, dt_ms)
    template = spike_template(p, dt_ms)
    state = {"v": p["e_l_mv"].copy(), "theta_fast": np.zeros(n), "theta_slow": np.zeros(n),
             "noise": np.zeros(n), "g_ahp": np.zeros(n), "phase": np.full(n, -1), "v_cross": np.zeros(n),
             "refractory_left": np.zeros(n, dtype=np.int64)}
    volts = [np.empty(lengths[i], np.float32) for i in order] if return_voltage else None
    spikes = [[] for _ in range(n)]
    sorted_lengths = lengths[order]
    start = 0
    while start < sorted_lengths[0]:
        m = int(np.sum(sorted_lengths > start))
        width = min(_CHUNK, max(64, _CHUNK_VALUES // m), int(sorted_lengths[0]) - start)
        block = np.zeros((width, m))  # time-major: one contiguous row per sample
        for row in range(m):
            piece = currents_pa[order[row]][start : start + width]
            block[: len(piece), row] = piece
        if np.any(c["kick_pa"][:m] > 0):
            block += _noise_block(state, c, m, width, rngs, order)
        sub = {key: value[:m] for key, value in state.items()}
        out = _run_chunk(_take(p, slice(0, m)), _take(c, slice(0, m)), [t[:m] for t in template], sub, block, spikes, start, dt_ms, return_voltage)
        for key in state:
            state[key][:m] = sub[key]
        if return_voltage:
            for row in range(m):
                stop = min(width, sorted_lengths[row] - start)
                volts[row][start : start + stop] = out[:stop, row]
        start += width
    unsort = np.argsort(order, kind="stable")
    spike_samples = [np.asarray(spikes[i], dtype=np.int64) for i in unsort]
    return ([volts[i] for i in unsort] if return_voltage else None), spike_samples


def _noise_block(state, c, m, width, rngs, order):
    """The OU noise current `[width, m]` of the next samples; advances `state["noise"]`.

    noise[0] is the current state; noise[k] = decay * noise[k - 1] + kick[k - 1].
    """
    from scipy.signal import lfilter

    if isinstance(rngs, np.random.Generator):
        kicks = rngs.standard_normal((width, m))
    else:
        kicks = np.zeros((width, m))
        for row in np.flatnonzero(c["kick_pa"][:m] > 0):
            kicks[:, row] = rngs[order[row]].standard_normal(width)
    kicks *= c["kick_pa"][None, :m]
    drive = np.concatenate([state["noise"][None, :m], kicks[:-1]])
    noise = np.empty((width, m))
    for decay in np.unique(c["decay_noise"][:m]):
        cols = np.flatnonzero(c["decay_noise"][:m] == decay)
        noise[:, cols] = lfilter([1.0], [1.0, -decay], drive[:, cols], axis=0)
    state["noise"][:m] = noise[-1] * c["decay_noise"][:m] + kicks[-1]
    return noise


def _run_chunk(p, c, template, s, block, spikes, offset, dt_ms, record=True):
    """Advance the state `s` (updated in place) over `block` (total current, `[width, m]`).

    Each sample: a threshold crossing outside the refractory period starts a spike (its sample index, plus
    `offset`, goes to `spikes[row]`); the sample is written (the template during
    a spike); then the membrane and threshold advance. During a spike the
    membrane state is parked at -inf (no crossing) and restarts at the trough.
    Returns the voltage `[width, m]` (or None without `record`).
    """
    a, b, tlen = template
    e_l = p["e_l_mv"]
    drive_rest = e_l + block * (p["r_mohm"] * 1e-3)
    drive_dep = e_l + block * (p["r_dep_mohm"] * 1e-3)
    out = np.empty(block.shape) if record else None
    v, phase, v_cross = s["v"], s["phase"], s["v_cross"]
    theta_fast, theta_slow, g_ahp, refractory_left = s["theta_fast"], s["theta_slow"], s["g_ahp"], s["refractory_left"]
    g_rest, g_dep = 1000.0 / p["r_mohm"], 1000.0 / p["r_dep_mohm"]  # nS
    capacitance_pf = (p["tau_ms"] * g_rest, p["tau_dep_ms"] * g_dep)  # below, above rest
    spiking = np.flatnonzero(phase >= 0)
    ahp = bool(np.any(p["g_ahp_ns"] > 0))
    for k in range(block.shape[0]):
        crossed = np.flatnonzero((v >= p["theta_inf_mv"] + theta_fast + theta_slow) & (refractory_left <= 0))
        if crossed.size:
            phase[crossed] = 0
            refractory_left[crossed] = c["refractory_samples"][crossed]
            v_cross[crossed] = v[crossed]
            v[crossed] = -np.inf
            theta_fast[crossed] += p["d_theta_fast_mv"][crossed]
            theta_slow[crossed] += p["d_theta_slow_mv"][crossed]
            g_ahp[crossed] += p["g_ahp_ns"][crossed]
            spiking = np.union1d(spiking, crossed)
            for row in crossed.tolist():
                spikes[row].append(offset + k)
        if record:
            out[k] = v
            if spiking.size:
                out[k, spiking] = a[spiking, phase[spiking]] * v_cross[spiking] + b[spiking, phase[spiking]]
        above = v > e_l
        v_inf = np.where(above, drive_dep[k], drive_rest[k])
        if ahp:  # the AHP conductance shunts towards e_ahp and shortens the time constant
            g_leak = np.where(above, g_dep, g_rest)
            g_total = g_leak + g_ahp
            v_inf = (g_leak * v_inf + g_ahp * p["e_ahp_mv"]) / g_total
            v = v_inf + (v - v_inf) * np.exp(-dt_ms * g_total / np.where(above, capacitance_pf[1], capacitance_pf[0]))
            g_ahp *= c["decay_ahp"]
        else:
            v = v_inf + (v - v_inf) * np.where(above, c["decay_dep"], c["decay_rest"])
        theta_fast *= c["decay_fast"]
        theta_slow *= c["decay_slow"]
        refractory_left -= 1
        if spiking.size:
            phase[spiking] += 1
            done = phase[spiking] >= tlen[spiking]
            if done.any():
                ended = spiking[done]
                phase[ended] = -1
                v[ended] = p["v_trough_mv"][ended]
                spiking = spiking[~done]
    s["v"] = v
    return out


def simulate_reference(params, current_pa, dt_ms, kicks_pa):
    """The same model for one trace, one sample at a time in plain Python floats.

    Args:
        params: dict of `PARAMETERS` (scalars).
        current_pa: 1-D array (pA per sample).
        kicks_pa: the noise kicks (pA per sample), already scaled.

    Returns:
        `(voltage_mv, spike_samples)`.
    """
    p = {key: float(params[key]) for key in PARAMETERS}
    one = {key: np.array([value]) for key, value in p.items()}
    a, b, tlen = spike_template(one, dt_ms)
    a, b, tlen = a[0], b[0], int(tlen[0])
    v, theta_fast, theta_slow, noise, g_ahp, phase, v_cross = p["e_l_mv"], 0.0, 0.0, 0.0, 0.0, -1, 0.0
    refractory, refractory_left = int(refractory_samples(p["refractory_ms"], dt_ms)), 0
    out, spikes = np.empty(len(current_pa)), []
    for k, i_ext in enumerate(current_pa):
        if phase < 0 and refractory_left <= 0 and v >= p["theta_inf_mv"] + theta_fast + theta_slow:
            phase, v_cross, refractory_left = 0, v, refractory
            theta_fast += p["d_theta_fast_mv"]
            theta_slow += p["d_theta_slow_mv"]
            g_ahp += p["g_ahp_ns"]
            spikes.append(k)
        out[k] = a[phase] * v_cross + b[phase] if phase >= 0 else v
        current = i_ext + noise
        r_mohm, tau_ms = (p["r_dep_mohm"], p["tau_dep_ms"]) if v > p["e_l_mv"] else (p["r_mohm"], p["tau_ms"])
        g_leak_ns = 1000.0 / r_mohm
        v_inf = (g_leak_ns * (p["e_l_mv"] + r_mohm * current * 1e-3) + g_ahp * p["e_ahp_mv"]) / (g_leak_ns + g_ahp)
        v = v_inf + (v - v_inf) * math.exp(-dt_ms * (g_leak_ns + g_ahp) / (tau_ms * g_leak_ns))
        g_ahp *= math.exp(-dt_ms / p["tau_ahp_ms"])
        noise = noise * math.exp(-dt_ms / p["noise_tau_ms"]) + kicks_pa[k]
        theta_fast *= math.exp(-dt_ms / p["tau_theta_fast_ms"])
        theta_slow *= math.exp(-dt_ms / p["tau_theta_slow_ms"])
        refractory_left -= 1
        if phase >= 0:
            phase += 1
            if phase >= tlen:
                phase, v = -1, p["v_trough_mv"]
    return out, np.asarray(spikes, dtype=np.int64)

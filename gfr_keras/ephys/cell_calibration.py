"""Model parameters of a synthetic cell from its source cell's Allen features.

Set directly from the metadata: resting potential, input resistance and time
constant (below rest), fast trough, upstroke/downstroke ratio (through the
spike's fall time). The resistance above rest follows from the rheobase and the
threshold. Four knobs are calibrated on simulated Long Square steps, all
cells and candidates at once: the threshold's distance above the fast trough
(kept at or below `THETA_MAX_MV`, a realistic threshold), the after-spike AHP
conductance, and the spike-triggered threshold jumps (fast, slow). They are
chosen on a grid to match the source cell's f-I slope, its average firing rate
(1 / mean ISI on the sweep 40 pA above rheobase, Allen's "hero" sweep) and its
adaptation index, the way allensdk's extractor computes them from spike times,
and to fire the first spike of the strongest step within `LATENCY_MS` of its
onset, as real cells do a hundred pA above rheobase. (A high threshold with
threshold jumps alone can reach the rates too, but only through a large
resistance, hence a long time constant, above rest: the first spike then comes
late, and the GFR activation fit, which reads the first bin after onset, sees
no spikes.)

No knob can make an impossible cell: the threshold jumps are never negative (a
negative jump lowers the threshold after each spike, towards the fast trough),
and every cell has an absolute refractory period of `REFRACTORY_MS` from each
spike's onset, so no cell fires above 1000 / `REFRACTORY_MS` (476 Hz, 1/ISI) at
any current.
"""

import numpy as np

from gfr_keras.errors import InvalidParameterError
from gfr_keras.ephys.spiking_neuron import simulate

FEATURE_COLUMNS = {
    "ef__ri": "input_resistance_mohm",
    "ef__tau": "tau_ms",
    "ef__vrest": "vrest_mv",
    "ef__threshold_i_long_square": "rheobase_pa",
    "ef__f_i_curve_slope": "fi_slope_hz_per_pa",
    "ef__avg_firing_rate": "avg_firing_rate_hz",
    "ef__adaptation": "adaptation",
    "ef__fast_trough_v_long_square": "fast_trough_mv",
    "ef__upstroke_downstroke_ratio_long_square": "upstroke_downstroke_ratio",
}
V_PEAK_MV = 25.0
UPSTROKE_MV_PER_MS = 350.0  # raw maximum dV/dt of the rise (not in the metadata table)
STEP_OFFSETS_PA = tuple(range(-20, 141, 20))  # suprathreshold Long Squares, relative to rheobase
# allensdk's hero sweep: the first from rheobase + 39 to rheobase + 61 pA (exclusive); the +40 pA step here.
HERO_WINDOW_PA = (39.0, 61.0)
THETA_MAX_MV = -35.0
# Absolute refractory period from a spike's onset (its shape included): fast-spiking
# cells reach 300-400 Hz at the strongest Allen steps, none above 500 Hz. 2.1 ms, not
# 2.0: spike times go through float seconds, and 1/ISI must stay clear of 500 Hz.
REFRACTORY_MS = 2.1
LATENCY_MS = 8.0  # first spike of the strongest step (rheobase + 140 pA), at most
E_AHP_MV = -90.0
_GAPS_MV = np.geomspace(2.0, 30.0, 5)
_G_AHP_REL = np.array([0.0, 0.5, 1.5, 4.0, 10.0, 25.0])  # AHP conductance per spike / leak conductance
_D_FAST_MV = np.array([0.0, 2.0, 4.0])
_D_SLOW_MV = np.array([0.0, 1.0, 4.0])


def cell_features(row):
    """The source cell's features used here, in named units."""
    return {name: float(row[column]) for column, name in FEATURE_COLUMNS.items()}


def threshold_current_pa(rheobase_pa):
    """The model's threshold current: halfway between rheobase and the step 20 pA below."""
    return rheobase_pa - min(10.0, 0.3 * rheobase_pa)


def model_parameters(features, gap_mv, g_ahp_rel, d_fast_mv, d_slow_mv):
    """`spiking_neuron` parameters (scalars) for one cell and one choice of the knobs."""
    if d_fast_mv < 0 or d_slow_mv < 0:
        raise InvalidParameterError(
            f"d_fast_mv, d_slow_mv: threshold jumps must be >= 0 mV (a negative jump lets the threshold "
            f"fall towards the fast trough), got {d_fast_mv}, {d_slow_mv}", parameter="d_fast_mv" if d_fast_mv < 0 else "d_slow_mv")
    e_l = features["vrest_mv"]
    trough = features["fast_trough_mv"]
    theta = max(min(trough + gap_mv, max(THETA_MAX_MV, trough + 2.0)), e_l + 2.0)
    r_dep_mohm = 1000.0 * (theta - e_l) / threshold_current_pa(features["rheobase_pa"])
    rise_ms = 0.5 * np.pi * (V_PEAK_MV - theta) / UPSTROKE_MV_PER_MS
    ratio = float(np.clip(features["upstroke_downstroke_ratio"], 0.8, 7.0))
    # raw ratio = (rise slope) / (fall slope); measured through the extractor's
    # 10 kHz filter it comes out ~4 % low (50-cell bank): 1.04 compensates.
    fall_ms = 1.04 * ratio * rise_ms * (V_PEAK_MV - trough) / (V_PEAK_MV - theta)
    return {
        "e_l_mv": e_l,
        "r_mohm": features["input_resistance_mohm"],
        "r_dep_mohm": r_dep_mohm,
        "tau_ms": features["tau_ms"],
        # never slower above rest than below: strong steps then reach the
        # threshold within milliseconds, as in real cells
        "tau_dep_ms": features["tau_ms"] * min(r_dep_mohm / features["input_resistance_mohm"], 1.0),
        "theta_inf_mv": theta,
        "v_peak_mv": V_PEAK_MV,
        "v_trough_mv": trough,
        "rise_ms": rise_ms,
        "fall_ms": fall_ms,
        "d_theta_fast_mv": d_fast_mv,
        "tau_theta_fast_ms": 30.0,
        "d_theta_slow_mv": d_slow_mv,
        "tau_theta_slow_ms": 300.0,
        "g_ahp_ns": g_ahp_rel * 1000.0 / r_dep_mohm,
        # the AHP lasts about one interspike interval of the cell's hero sweep
        "tau_ahp_ms": float(np.clip(1000.0 / max(features["avg_firing_rate_hz"], 1.0), 10.0, 150.0)),
        "e_ahp_mv": E_AHP_MV,
        "noise_sd_pa": 3.0,
        "noise_tau_ms": 5.0,
        "refractory_ms": REFRACTORY_MS,
    }


def spike_train_features(spike_samples, amplitudes_pa, rheobase_pa, dt_ms, window=(0, 1000.0)):
    """f-I slope (Hz/pA), hero-sweep 1/mean ISI (Hz), adaptation index (as allensdk computes
    them) and the first-spike latency (ms) of the last (strongest) step.

    Args:
        spike_samples: spike sample indices of each step (one list entry per amplitude).
        amplitudes_pa: the steps' amplitudes.
        window: the step's start and end (ms).
    """
    rates, hero, latency = [], None, np.inf
    for samples, amplitude in zip(spike_samples, amplitudes_pa):
        times = np.asarray(samples) * dt_ms
        times = times[(times >= window[0]) & (times <= window[1])]
        rates.append(len(times) / ((window[1] - window[0]) * 1e-3))
        if hero is None and rheobase_pa + HERO_WINDOW_PA[0] < amplitude < rheobase_pa + HERO_WINDOW_PA[1] and len(times):
            hero = times
        latency = times[0] - window[0] if len(times) else np.inf
    rates, amps = np.asarray(rates), np.asarray(amplitudes_pa)
    spiking = rates > 0
    slope = np.polyfit(amps[spiking], rates[spiking], 1)[0] if spiking.sum() >= 2 else np.nan
    if hero is None or len(hero) < 3:
        return slope, np.nan, np.nan, latency
    isis = np.diff(hero)
    adaptation = np.mean(np.diff(isis) / (isis[1:] + isis[:-1])) if len(isis) > 1 else np.nan
    return slope, 1000.0 / isis.mean(), adaptation, latency


def _stack(parameter_dicts):
    return {key: np.array([p[key] for p in parameter_dicts]) for key in parameter_dicts[0]}


def _score(measured, features):
    slope, rate, adaptation, latency = measured
    if not np.isfinite(slope) or not np.isfinite(rate) or not np.isfinite(latency):
        return np.inf
    target_slope = max(features["fi_slope_hz_per_pa"], 0.01)
    cost = np.log(max(slope, 1e-3) / target_slope) ** 2 + np.log(rate / features["avg_firing_rate_hz"]) ** 2
    if np.isfinite(adaptation):
        cost += 0.5 * ((adaptation - features["adaptation"]) / 0.1) ** 2
    return cost + 4.0 * np.log(max(latency, LATENCY_MS) / LATENCY_MS) ** 2


def _local_grid(knobs):
    """A finer grid around the best coarse knobs."""
    gap, g_ahp, fast, slow = knobs
    gaps = [gap * f for f in (0.8, 1.0, 1.25)]
    g_ahps = [g_ahp * f for f in (0.6, 0.78, 1.0, 1.28, 1.66)] if g_ahp > 0 else [0.0, 0.1, 0.25]
    fasts = sorted({max(fast + d, 0.0) for d in (-1.0, 0.0, 1.0)}) if fast != 0 else [0.0, 0.5, 1.0]
    slows = [slow * f for f in (0.6, 1.0, 1.66)] if slow > 0 else [0.0, 0.3]
    return [(g, a, f, s) for g in gaps for a in g_ahps for f in fasts for s in slows]


def _search(features_list, grids, dt_ms, parameter_overrides=None):
    """Simulate every cell's candidate knobs; the best `(cost, knobs, measured)` per cell."""
    params, currents, steps = [], [], {}
    for features, grid in zip(features_list, grids):
        amplitudes = [features["rheobase_pa"] + offset for offset in STEP_OFFSETS_PA[1:]]
        for knobs in grid:
            p = model_parameters(features, *knobs)
            if parameter_overrides is not None:
                p = parameter_overrides(p)
            p["noise_sd_pa"] = 0.0
            for amplitude in amplitudes:
                params.append(p)
                if amplitude not in steps:
                    steps[amplitude] = np.full(int(1000.0 / dt_ms), amplitude)
                currents.append(steps[amplitude])
    _, spikes = simulate(_stack(params), currents, dt_ms, [None] * len(currents), return_voltage=False)
    n_amp, first, best = len(STEP_OFFSETS_PA) - 1, 0, []
    for features, grid in zip(features_list, grids):
        amplitudes = [features["rheobase_pa"] + offset for offset in STEP_OFFSETS_PA[1:]]
        cell_best = (np.inf, grid[0], (np.nan,) * 4)
        for knobs in grid:
            measured = spike_train_features(spikes[first : first + n_amp], amplitudes, features["rheobase_pa"], dt_ms)
            first += n_amp
            cost = _score(measured, features)
            if cost < cell_best[0]:
                cell_best = (cost, knobs, measured)
        best.append(cell_best)
    return best


KNOBS = ("gap_mv", "g_ahp_rel", "d_fast_mv", "d_slow_mv")


def calibrate(features_list, dt_ms=0.1, parameter_overrides=None):
    """Knobs `KNOBS` for each cell, all cells simulated at once.

    Each candidate is run on the cell's suprathreshold 1 s steps (no noise):
    first a coarse grid, then a finer one around the best; the candidate whose
    spike trains best match the f-I slope, hero rate, adaptation and latency wins.
    Returns a list of dicts (knobs and the slope, rate, adaptation and latency reached).
    `parameter_overrides` (optional, `params dict -> params dict`) changes every
    candidate model before it is simulated: a variant of the model, calibrated.
    """
    coarse = [(g, a, f, s) for g in _GAPS_MV for a in _G_AHP_REL for f in _D_FAST_MV for s in _D_SLOW_MV]
    first = _search(features_list, [coarse] * len(features_list), dt_ms, parameter_overrides)
    second = _search(features_list, [_local_grid(b[1]) for b in first], dt_ms, parameter_overrides)
    results = []
    for one, two in zip(first, second):
        cost, knobs, measured = min(one, two, key=lambda b: b[0])
        names = ("fi_slope_hz_per_pa", "avg_firing_rate_hz", "adaptation", "first_spike_latency_ms")
        results.append({**dict(zip(KNOBS, knobs)), "calibration_cost": cost, **dict(zip(names, measured))})
    return results

"""Figures the `gfr` commands draw: fits, EVR histograms, processed cells, the demo's neurons.

Every figure is written atomically as PNG (`save_figure_atomic`); rates are drawn in Hz.
Figures are `matplotlib.figure.Figure` objects, not pyplot's: no global figure
state and no backend to select, so drawing works without a display and leaves
the caller's pyplot backend alone.
"""

import numpy as np

from gfr_keras.dataset.filters import MIN_VAL_EVR
from gfr_keras.dataset.fits import is_ok
from gfr_keras.io_utils import save_figure_atomic
from gfr_keras.neurons.kernels import kernel_over_time
from gfr_keras.units import HZ_PER_PER_MS


def _figure(**kwargs):
    """A figure outside pyplot (saved by `save_figure_atomic`, freed with its last reference)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)  # counts of cells: no 2.5 cells on an axis


def plot_evr_histogram(fits, path, title):
    """Validation (Noise 1) and test (Noise 2) EVR of every fitted cell."""
    ok = [f for f in fits if is_ok(f)]
    figure = _figure(figsize=(7, 4))
    axis = figure.subplots()
    bins = np.linspace(-0.2, 1.0, 25)
    for key, label in (("val_evr", "validation (Noise 1)"), ("test_evr", "test (Noise 2)")):
        values = np.clip([f[key] for f in ok if f.get(key) is not None], -0.2, 1.0)
        axis.hist(values, bins=bins, alpha=0.6, label=f"{label}, median {np.median(values):.2f}" if len(values) else label)
    axis.axvline(MIN_VAL_EVR, color="k", ls="--", lw=0.8, label=f"dataset filter (val > {MIN_VAL_EVR})")
    axis.set_xlabel("explained variance ratio")
    axis.set_ylabel("cells")
    axis.yaxis.set_major_locator(_integer_ticks())
    axis.set_title(f"{title}: {len(ok)} of {len(fits)} cells fitted")
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure_atomic(figure, path)


def plot_cell_fit(fit, cell, path):
    """f-I pairs with the fitted activation, the alpha/beta kernels, predicted vs measured Noise 2."""
    from gfr_keras.fitting.data import activation_pairs, stimulus_groups
    from gfr_keras.neurons import GFR, PolynomialActivation
    from gfr_keras.neurons.layer import predict_compiled

    params = fit["params"]
    bin_size, actv = fit["bin_size"], fit["actv_bin_size"]
    figure = _figure(figsize=(16, 4.2))
    axes = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 2]})

    current, rate, mask = activation_pairs([cell], actv)
    real = mask[:, 0] > 0
    axes[0].plot(current[real, 0], HZ_PER_PER_MS * rate[real, 0], "o", label=f"Long Square onset bins ({actv} ms)")
    z = np.linspace(min(0.0, current[real, 0].min()), current[real, 0].max() * 1.2, 200).astype("float32")
    g = PolynomialActivation.from_params([params["g"]])
    axes[0].plot(z, HZ_PER_PER_MS * np.asarray(g(z[:, None]))[:, 0], "-", label="fitted g")
    axes[0].set_xlabel("current (pA)")
    axes[0].set_ylabel("rate (Hz)")
    axes[0].set_title("f-I curve")
    axes[0].legend(fontsize=8)

    steps = int(2000 / bin_size)
    time_ms = np.arange(steps) * bin_size
    axes[1].plot(time_ms, kernel_over_time(params["a"][0], params["ds"], steps), label="alpha: input current")
    axes[1].plot(time_ms, HZ_PER_PER_MS * kernel_over_time(params["b"][0], params["ds"], steps), label="1000 beta: own rate history")
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_xlabel("lag (ms)")
    axes[1].set_title("kernels")
    axes[1].legend(fontsize=8)

    noise = stimulus_groups([cell], bin_size)["Noise 2"]
    n, length = int(noise["n_sweeps"][0]), int(noise["length"][0])
    model = GFR.from_params([params], return_sequences=True, dtype="float64")
    predicted = predict_compiled(model, noise["current_pa"][:1, :length, :].astype("float64"))[0, :, 0]
    time_s = np.arange(length) * bin_size / 1000.0
    for r in range(n):
        axes[2].plot(time_s, HZ_PER_PER_MS * noise["rate_per_ms"][r, :length, 0], color="0.6", lw=0.6, label="measured repeats" if r == 0 else None)
    axes[2].plot(time_s, HZ_PER_PER_MS * noise["rate_per_ms"][:n, :length, 0].mean(0), color="k", lw=1, label="PSTH")
    axes[2].plot(time_s, HZ_PER_PER_MS * predicted, color="C3", lw=1.2, label="GFR prediction")
    axes[2].set_xlabel("time (s)")
    axes[2].set_ylabel("rate (Hz)")
    axes[2].set_title(f"Noise 2: test EVR {fit['test_evr']:.2f} (validation {fit['val_evr']:.2f})")
    axes[2].legend(fontsize=8)
    figure.suptitle(f"cell {fit['cell_id']} ({fit.get('cre_line') or fit.get('species', '')}), configuration ({bin_size}, {actv}) ms")
    figure.tight_layout()
    save_figure_atomic(figure, path)


_SHOWN = ("Long Square", "Ramp", "Noise 1")


def _pick(cell, stimulus_name):
    candidates = [
        (number, sweep) for number, sweep in sorted(cell["sweeps"].items()) if sweep["stimulus_name"] == stimulus_name
    ]
    with_spikes = [c for c in candidates if len(c[1]["raw"]["spike_times_s"])]
    if stimulus_name == "Long Square" and with_spikes:
        return with_spikes[0]  # the rheobase sweep
    return candidates[0] if candidates else None


def plot_processed_cell(cell, path, bin_size_ms=20):
    """Write a PNG: for a Long Square, the Ramp and a Noise 1 sweep, the raw current
    with its binned mean, the voltage with spike times, and the binned rate."""

    figure = _figure(figsize=(15, 7.5))
    axes = figure.subplots(3, len(_SHOWN), sharex="col")
    for column, stimulus_name in enumerate(_SHOWN):
        picked = _pick(cell, stimulus_name)
        if picked is None:
            axes[0, column].set_title(f"{stimulus_name}: none")
            continue
        number, sweep = picked
        raw = sweep["raw"]
        rate_hz = raw["sampling_rate_hz"]
        time_s = np.arange(len(raw["current_pa"])) / rate_hz
        start, stop = raw["window"]
        bins = len(sweep["current_pa"][bin_size_ms])
        bin_start_s = (start + np.arange(bins) * int(bin_size_ms * 0.001 * rate_hz)) / rate_hz
        axes[0, column].plot(time_s, raw["current_pa"], color="0.6", lw=0.5, label="recorded")
        axes[0, column].step(bin_start_s, sweep["current_pa"][bin_size_ms], where="post", color="C0", lw=1, label=f"{bin_size_ms} ms bins")
        axes[0, column].axvspan(time_s[start], time_s[min(stop, len(time_s) - 1)], color="C2", alpha=0.08, label="binned window")
        axes[0, column].set_title(f"sweep {number}: {stimulus_name}")
        axes[1, column].plot(time_s, raw["response_mv"], color="k", lw=0.4)
        spikes = raw["spike_times_s"]
        axes[1, column].plot(spikes, np.full(len(spikes), np.nanmax(raw["response_mv"]) + 5), "|", color="C3", ms=6)
        axes[2, column].step(bin_start_s, HZ_PER_PER_MS * sweep["rate_per_ms"][bin_size_ms], where="post", color="C3", lw=1)
        axes[2, column].set_xlabel("time (s)")
    axes[0, 0].set_ylabel("current (pA)")
    axes[1, 0].set_ylabel("voltage (mV), spikes")
    axes[2, 0].set_ylabel(f"rate (Hz, {bin_size_ms} ms bins)")
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(
        f"cell {cell['cell_id']} ({cell['species'] or 'unknown species'}, {cell['cre_line'] or 'no cre line'}); "
        f"max firing rate {HZ_PER_PER_MS * cell['max_firing_rate_per_ms']:.0f} Hz"
    )
    figure.tight_layout()
    save_figure_atomic(figure, path, dpi=90)


def plot_reference_neurons(time_ms, current_pa, results, path):
    """`gfr demo`'s figure: the current, every neuron's rate (Hz), one neuron's traces."""
    figure = _figure(figsize=(12, 9))
    axes = figure.subplots(3, 1, sharex=True)
    axes[0].plot(time_ms, current_pa, color="black", lw=0.8, label="1 ms")
    for result in results:
        record = result["record"]
        label = f"{record['cell_id']} ({record['bin_size']},{record['actv_bin_size']})"
        axes[1].step(result["time_ms"], result["rate_per_ms"] * HZ_PER_PER_MS, where="post", label=label)
    shown = results[len(results) // 2]
    for k in range(shown["traces"].shape[1]):
        axes[2].plot(shown["time_ms"], shown["traces"][:, k], lw=0.8, label=f"trace {k}")
    axes[2].plot(shown["time_ms"], shown["traces"].mean(axis=1), color="black", lw=1.5, label="mean(h) = z")
    axes[0].set_ylabel("current (pA)")
    axes[0].set_title("Injected current")
    axes[1].set_ylabel("rate (Hz)")
    axes[1].set_title("GFR firing rates, one neuron per published configuration")
    axes[1].legend(fontsize=7, title="cell id\n(bin, activation bin) ms", title_fontsize=7,
                   loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[2].set_ylabel("trace h (pA)")
    record = shown["record"]
    axes[2].set_title(f"Traces of cell {record['cell_id']} (bin {record['bin_size']} ms, "
                      f"decay rates {np.round(record['params']['ds'], 3).tolist()})")
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[2].set_xlabel("time (ms)")
    figure.tight_layout()
    save_figure_atomic(figure, path, dpi=110)
    return path

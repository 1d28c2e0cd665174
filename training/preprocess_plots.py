"""One figure per processed cell: raw sweeps with their binned current and rate."""

import numpy as np

from gfr_keras.io_utils import save_figure_atomic

_SHOWN = ("Long Square", "Ramp", "Noise 1")


def _pick(cell, stimulus_name):
    candidates = [
        (number, sweep) for number, sweep in sorted(cell["sweeps"].items()) if sweep["stimulus_name"] == stimulus_name
    ]
    with_spikes = [c for c in candidates if len(c[1]["raw"]["spike_times_s"])]
    if stimulus_name == "Long Square" and with_spikes:
        return with_spikes[0]  # the rheobase sweep
    return candidates[0] if candidates else None


def plot_cell(cell, path, bin_size_ms=20):
    """Write a PNG: for a Long Square, the Ramp and a Noise 1 sweep, the raw current
    with its binned mean, the voltage with spike times, and the binned rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, len(_SHOWN), figsize=(15, 7.5), sharex="col")
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
        axes[2, column].step(bin_start_s, 1000 * sweep["rate_per_ms"][bin_size_ms], where="post", color="C3", lw=1)
        axes[2, column].set_xlabel("time (s)")
    axes[0, 0].set_ylabel("current (pA)")
    axes[1, 0].set_ylabel("voltage (mV), spikes")
    axes[2, 0].set_ylabel(f"rate (Hz, {bin_size_ms} ms bins)")
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(
        f"cell {cell['cell_id']} ({cell['species'] or 'unknown species'}, {cell['cre_line'] or 'no cre line'}); "
        f"max firing rate {1000 * cell['max_firing_rate_per_ms']:.0f} Hz"
    )
    figure.tight_layout()
    save_figure_atomic(figure, path, dpi=90)
    plt.close(figure)

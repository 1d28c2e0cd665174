"""Figures of fits: EVR histograms per configuration, and one cell's fit in detail."""

import numpy as np

from gfr_keras.io_utils import save_figure_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_evr_histogram(fits, path, title):
    """Validation (Noise 1) and test (Noise 2) EVR of every fitted cell."""
    plt = _pyplot()
    ok = [f for f in fits if f.get("status") == "ok"]
    figure, axis = plt.subplots(figsize=(7, 4))
    bins = np.linspace(-0.2, 1.0, 25)
    for key, label in (("val_evr", "validation (Noise 1)"), ("test_evr", "test (Noise 2)")):
        values = np.clip([f[key] for f in ok if f.get(key) is not None], -0.2, 1.0)
        axis.hist(values, bins=bins, alpha=0.6, label=f"{label}, median {np.median(values):.2f}" if len(values) else label)
    axis.axvline(0.5, color="k", ls="--", lw=0.8, label="dataset filter (val > 0.5)")
    axis.set_xlabel("explained variance ratio")
    axis.set_ylabel("cells")
    axis.set_title(f"{title}: {len(ok)} of {len(fits)} cells fitted")
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure_atomic(figure, path)
    plt.close(figure)


def kernel(weights, decay_rates, steps):
    """A GFR kernel over time: `k(t) = sum_i w_i (1 - lam_i)^t`, t = 0..steps-1 bins."""
    t = np.arange(steps)[:, None]
    return (np.asarray(weights)[None, :] * (1.0 - np.asarray(decay_rates))[None, :] ** t).sum(axis=1)


def plot_cell_fit(fit, cell, path):
    """f-I pairs with the fitted activation, the alpha/beta kernels, predicted vs measured Noise 2."""
    import gfr_keras as gk
    from gfr_keras.fit_data import activation_pairs, stimulus_groups

    plt = _pyplot()
    params = fit["params"]
    bin_size, actv = fit["bin_size"], fit["actv_bin_size"]
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.2), gridspec_kw={"width_ratios": [1, 1, 2]})

    current, rate, mask = activation_pairs([cell], actv)
    real = mask[:, 0] > 0
    axes[0].plot(current[real, 0], 1000 * rate[real, 0], "o", label=f"Long Square onset bins ({actv} ms)")
    z = np.linspace(min(0.0, current[real, 0].min()), current[real, 0].max() * 1.2, 200).astype("float32")
    g = gk.PolynomialActivation.from_params([params["g"]])
    axes[0].plot(z, 1000 * np.asarray(g(z[:, None]))[:, 0], "-", label="fitted g")
    axes[0].set_xlabel("current (pA)")
    axes[0].set_ylabel("rate (Hz)")
    axes[0].set_title("f-I curve")
    axes[0].legend(fontsize=8)

    steps = int(2000 / bin_size)
    time_ms = np.arange(steps) * bin_size
    axes[1].plot(time_ms, kernel(params["a"][0], params["ds"], steps), label="alpha: input current")
    axes[1].plot(time_ms, 1000 * kernel(params["b"][0], params["ds"], steps), label="1000 beta: own rate history")
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_xlabel("lag (ms)")
    axes[1].set_title("kernels")
    axes[1].legend(fontsize=8)

    noise = stimulus_groups([cell], bin_size)["Noise 2"]
    n, length = int(noise["n_sweeps"][0]), int(noise["length"][0])
    model = gk.GFR.from_params([params], return_sequences=True, dtype="float64")
    predicted = np.asarray(model(noise["current_pa"][:1, :length, :].astype("float64")))[0, :, 0]
    time_s = np.arange(length) * bin_size / 1000
    for r in range(n):
        axes[2].plot(time_s, 1000 * noise["rate_per_ms"][r, :length, 0], color="0.6", lw=0.6, label="measured repeats" if r == 0 else None)
    axes[2].plot(time_s, 1000 * noise["rate_per_ms"][:n, :length, 0].mean(0), color="k", lw=1, label="PSTH")
    axes[2].plot(time_s, 1000 * predicted, color="C3", lw=1.2, label="GFR prediction")
    axes[2].set_xlabel("time (s)")
    axes[2].set_ylabel("rate (Hz)")
    axes[2].set_title(f"Noise 2: test EVR {fit['test_evr']:.2f} (validation {fit['val_evr']:.2f})")
    axes[2].legend(fontsize=8)
    figure.suptitle(f"cell {fit['cell_id']} ({fit.get('cre_line') or fit.get('species', '')}), configuration ({bin_size}, {actv}) ms")
    figure.tight_layout()
    save_figure_atomic(figure, path)
    plt.close(figure)

"""`gfr demo`: the reference neurons driven by one current, printed and plotted."""

import os
import numpy as np

from gfr_keras.dataset.records import REFERENCE_DATASET_PATH, read_dataset
from gfr_keras.io_utils import save_figure_atomic
from gfr_keras.dataset.lookup import population_from_records


def demo_current_pa(duration_ms=5000, resolution_ms=1, seed=0):
    """A 5 s test current at 1 ms resolution (pA): rest, a 150 pA step, noise, rest.

    Returns:
        `(time_ms [T], current_pa [T])`.
    """
    time_ms = np.arange(0, duration_ms, resolution_ms, dtype=np.float64)
    current = np.zeros_like(time_ms)
    current[(time_ms >= 500) & (time_ms < 2500)] = 150.0
    noisy = (time_ms >= 2500) & (time_ms < 4500)
    rng = np.random.default_rng(seed)
    # Noise smoothed over ~20 ms so that every bin size sees some of it.
    white = rng.normal(0.0, 1.0, noisy.sum() + 40)
    smooth = np.convolve(white, np.ones(40) / np.sqrt(40), mode="valid")[: noisy.sum()]
    current[noisy] = 100.0 + 60.0 * smooth
    return time_ms, current


def bin_current(time_ms, current_pa, bin_size_ms):
    """Mean current in whole bins of `bin_size_ms`: `(bin_start_ms [B], current_pa [B])`."""
    step = time_ms[1] - time_ms[0]
    per_bin = int(round(bin_size_ms / step))
    n_bins = len(current_pa) // per_bin
    binned = current_pa[: n_bins * per_bin].reshape(n_bins, per_bin).mean(axis=1)
    return time_ms[: n_bins * per_bin : per_bin], binned


def run_demo(out_dir, records=None):
    """Drive each reference neuron with `demo_current_pa`, print rates, write a PNG.

    Neurons of one bin size run together as one `GFR` population.

    Returns:
        dict with `plot` (the PNG path) and `neurons`: per neuron its cell id,
        configuration and mean rate during the step and the noise (1/ms).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if records is None:
        records = read_dataset(REFERENCE_DATASET_PATH)
    time_ms, current_pa = demo_current_pa()
    results = []
    for bin_size in sorted({r["bin_size"] for r in records}):
        members = [r for r in records if r["bin_size"] == bin_size]
        layer = population_from_records(members, return_sequences=True)
        bin_start_ms, binned = bin_current(time_ms, current_pa, bin_size)
        inputs = binned[None, :, None].astype("float32")
        rates, traces = (np.asarray(x)[0] for x in layer.simulate(inputs))
        for unit, record in enumerate(members):
            results.append(
                {
                    "record": record,
                    "time_ms": bin_start_ms,
                    "current_pa": binned,
                    "rate_per_ms": rates[:, unit],
                    "traces": traces[:, unit, :],
                }
            )

    os.makedirs(out_dir, exist_ok=True)
    figure, axes = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
    axes[0].plot(time_ms, current_pa, color="black", lw=0.8, label="1 ms")
    summary = []
    for result in results:
        record = result["record"]
        label = f"{record['cell_id']} ({record['bin_size']},{record['actv_bin_size']})"
        axes[1].step(result["time_ms"], result["rate_per_ms"] * 1000.0, where="post", label=label)
        in_step = (result["time_ms"] >= 500) & (result["time_ms"] < 2500)
        in_noise = (result["time_ms"] >= 2500) & (result["time_ms"] < 4500)
        summary.append(
            {
                "cell_id": record["cell_id"],
                "bin_size": record["bin_size"],
                "actv_bin_size": record["actv_bin_size"],
                "step_rate_per_ms": float(result["rate_per_ms"][in_step].mean()),
                "noise_rate_per_ms": float(result["rate_per_ms"][in_noise].mean()),
                "peak_rate_per_ms": float(result["rate_per_ms"].max()),
            }
        )
    shown = results[len(results) // 2]
    for k in range(shown["traces"].shape[1]):
        axes[2].plot(shown["time_ms"], shown["traces"][:, k], lw=0.8, label=f"trace {k}")
    axes[2].plot(
        shown["time_ms"], shown["traces"].mean(axis=1), color="black", lw=1.5, label="mean(h) = z"
    )
    axes[0].set_ylabel("current (pA)")
    axes[0].set_title("Injected current")
    axes[1].set_ylabel("rate (Hz)")
    axes[1].set_title("GFR firing rates, one neuron per published configuration")
    axes[1].legend(
        fontsize=7, title="cell id\n(bin, activation bin) ms", title_fontsize=7,
        loc="upper left", bbox_to_anchor=(1.01, 1.0),
    )
    axes[2].set_ylabel("trace h (pA)")
    axes[2].set_title(
        f"Traces of cell {shown['record']['cell_id']} "
        f"(bin {shown['record']['bin_size']} ms, decay rates {np.round(shown['record']['params']['ds'], 3).tolist()})"
    )
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[2].set_xlabel("time (ms)")
    figure.tight_layout()
    plot_path = os.path.join(out_dir, "gfr_demo.png")
    save_figure_atomic(figure, plot_path, dpi=110)
    plt.close(figure)
    return {"plot": plot_path, "neurons": summary}


def print_summary(result):
    print(f"{'cell_id':>8} {'config':>9} {'step':>10} {'noise':>10} {'peak':>10}   (mean rate, Hz)")
    for row in result["neurons"]:
        config = f"({row['bin_size']},{row['actv_bin_size']})"
        print(
            f"{row['cell_id']:>8} {config:>9} {1000 * row['step_rate_per_ms']:>10.2f} "
            f"{1000 * row['noise_rate_per_ms']:>10.2f} {1000 * row['peak_rate_per_ms']:>10.2f}"
        )
    print(f"plot: {result['plot']}")

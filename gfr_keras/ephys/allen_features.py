"""Allen's own cell features (allensdk's extractor) on a cell's NWB file, named as in the metadata table.

`extract_allen_features` runs `allensdk.ephys.extract_cell_features.extract_cell_features`
on the Ramp, Short Square and Long Square sweeps and returns the features the
shipped metadata table holds for real cells (`ef__*` columns), taken the way
Allen's database takes them: rheobase, f-I slope, input resistance, tau and
baseline from the Long Squares; average firing rate (1 / mean ISI), adaptation
from the hero sweep (rheobase + 40 to 60 pA); fast trough and
upstroke/downstroke ratio of the first spike on the rheobase sweep; the first
ramp spike's peak time.
"""

import numpy as np

#: metadata column -> (name here, kind: "relative" error or "mv" absolute error)
COMPARED = {
    "ef__threshold_i_long_square": ("rheobase_pa", "relative"),
    "ef__f_i_curve_slope": ("fi_slope_hz_per_pa", "relative"),
    "ef__tau": ("tau_ms", "relative"),
    "ef__ri": ("input_resistance_mohm", "relative"),
    "ef__avg_firing_rate": ("avg_firing_rate_hz", "relative"),
    "ef__vrest": ("vrest_mv", "mv"),
    "ef__fast_trough_v_long_square": ("fast_trough_mv", "mv"),
    "ef__upstroke_downstroke_ratio_long_square": ("upstroke_downstroke_ratio", "relative"),
    "ef__adaptation": ("adaptation", "absolute"),
    "ef__peak_t_ramp": ("peak_t_ramp_s", "relative"),
}


def sweeps_by_stimulus(data_set):
    """`{stimulus name: [sweep numbers]}` from the NWB file's `aibs_stimulus_name`."""
    groups = {}
    for number in sorted(data_set.get_sweep_numbers()):
        name = data_set.get_sweep_metadata(number).get("aibs_stimulus_name", b"")
        name = name.decode() if isinstance(name, bytes) else str(name)
        groups.setdefault(name, []).append(number)
    return groups


def extract_allen_features(nwb_path):
    """Allen's features of the cell in `nwb_path` (an Allen NWB v1 file), in named units."""
    from allensdk.core.nwb_data_set import NwbDataSet
    from allensdk.ephys.extract_cell_features import extract_cell_features

    data_set = NwbDataSet(str(nwb_path))
    groups = sweeps_by_stimulus(data_set)
    features = extract_cell_features(data_set, groups["Ramp"], groups["Short Square"], groups["Long Square"])
    long_squares = features["long_squares"]
    hero = long_squares["hero_sweep"]
    first_spike = long_squares["rheobase_sweep"]["spikes"][0]
    return {
        "rheobase_pa": float(long_squares["rheobase_i"]),
        "fi_slope_hz_per_pa": float(long_squares["fi_fit_slope"]),
        "tau_ms": 1000.0 * float(long_squares["tau"]),
        "input_resistance_mohm": float(long_squares["input_resistance"]),
        "vrest_mv": float(long_squares["v_baseline"]),
        "avg_firing_rate_hz": 1.0 / float(hero["mean_isi"]),
        "adaptation": float(hero["adapt"]),
        "fast_trough_mv": float(first_spike["fast_trough_v"]),
        "upstroke_downstroke_ratio": float(first_spike["upstroke_downstroke_ratio"]),
        "peak_t_ramp_s": float(features["ramps"]["mean_spike_0"]["peak_t"]),
        "short_square_amplitude_pa": float(features["short_squares"]["stimulus_amplitude"]),
    }


def feature_errors(synthetic, row):
    """`{metadata column: error}`: relative (|syn - real| / |real|), or absolute (mV; adaptation)."""
    errors = {}
    for column, (name, kind) in COMPARED.items():
        real = np.nan if row.get(column) is None else float(row[column])
        value = synthetic.get(name, np.nan)
        if not (np.isfinite(real) and np.isfinite(value)):
            errors[column] = np.nan
        elif kind == "relative":
            errors[column] = abs(value - real) / abs(real) if real else np.nan
        else:
            errors[column] = abs(value - real)
    return errors

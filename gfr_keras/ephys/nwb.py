"""Write sweeps as an Allen Cell Types NWB (v1) file that allensdk's `NwbDataSet` reads.

Layout (the parts `NwbDataSet` uses)::

    /acquisition/timeseries/Sweep_n/{data (V), starting_time@rate}
    /stimulus/presentation/Sweep_n/{data (A), starting_time@rate, aibs_stimulus_name, ...}
    /epochs/Sweep_n/{stimulus,response}/{timeseries -> the series above, idx_start, count}
    /epochs/Experiment_n/...   same, starting after the test pulse (gives index_range)
    /analysis/spike_times/Sweep_n   spike times (s from the sweep start)

No `/general/generated_by` version is written, so allensdk reads the data as
stored (SI units; `conversion` is 1 and never applied under h5py 3), and the
`unit` attributes are bytes, as allensdk decodes them.
"""

import h5py
import numpy as np

from gfr_keras.io_utils import atomic_path


#: Decimal digits kept with `quantize` (HDF5 scale-offset filter, read back transparently by
#: h5py): 10 uV for voltages, 1 fA for currents; a 50 kHz cell then stays near 10 MB.
_DIGITS = {"Volts": 5, "Amps": 15}


def _dataset_options(unit, quantize):
    # float32 with shuffle+gzip, as in Allen's files.
    return {"compression": "gzip", "shuffle": True, **({"scaleoffset": _DIGITS[unit]} if quantize else {})}


def stored_values(data, unit, quantize=False):
    """The float32 values a reader gets back from a series `write_nwb` stores (`unit` "Volts" or "Amps").

    With `quantize`, HDF5's scale-offset filter rounds per chunk; the same dataset
    options in memory give the same numbers, so another writer (NWB 2) can store them.
    """
    data = np.asarray(data, dtype=np.float32)
    if not quantize:
        return data
    with h5py.File("stored_values.h5", "w", driver="core", backing_store=False) as handle:
        handle.create_dataset("data", data=data, **_dataset_options(unit, True))
        handle.flush()  # read through the filter: before a flush, h5py returns the cached chunk unfiltered
        return handle["data"][()]


def _series(group, name, data, unit, sampling_rate_hz, quantize=False):
    series = group.create_group(name)
    dataset = series.create_dataset("data", data=np.asarray(data, dtype=np.float32), **_dataset_options(unit, quantize))
    dataset.attrs["conversion"] = 1.0
    dataset.attrs["unit"] = np.bytes_(unit)  # fixed-length bytes: allensdk calls .decode()
    starting_time = series.create_dataset("starting_time", data=0.0)
    starting_time.attrs["rate"] = float(sampling_rate_hz)
    return series


def _epoch(epochs, name, stimulus_path, response_path, idx_start, count):
    epoch = epochs.create_group(name)
    for kind, path in (("stimulus", stimulus_path), ("response", response_path)):
        group = epoch.create_group(kind)
        group["timeseries"] = h5py.SoftLink(path)
        group.create_dataset("idx_start", data=int(idx_start))
        group.create_dataset("count", data=int(count))


def write_nwb(path, sweeps, sampling_rate_hz, session_description="gfr-keras synthetic cell", quantize=False):
    """Write sweeps to `path` atomically.

    Args:
        sweeps: list of dicts with `sweep_number`, `stimulus_name`, `stimulus_a`
            (A, `[samples]`), `response_v` (V, `[samples]`), `spike_times_s`,
            `experiment_start` (first sample after the test pulse),
            `amplitude_pa` and optionally `experiment_end` (the sample where
            valid data ends; default: the sweep's end).
        sampling_rate_hz: samples per second of every sweep.
        quantize: keep 10 uV / 1 fA (scale-offset filter) for smaller files.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            handle.create_dataset("nwb_version", data=b"NWB-1.0.5")
            handle.create_dataset("session_description", data=session_description.encode())
            handle.create_group("general")
            acquisition = handle.create_group("acquisition/timeseries")
            presentation = handle.create_group("stimulus/presentation")
            epochs = handle.create_group("epochs")
            spikes = handle.create_group("analysis/spike_times")
            for sweep in sweeps:
                name = f"Sweep_{int(sweep['sweep_number'])}"
                samples = len(sweep["stimulus_a"])
                stimulus = _series(presentation, name, sweep["stimulus_a"], "Amps", sampling_rate_hz, quantize)
                stimulus.create_dataset("aibs_stimulus_name", data=sweep["stimulus_name"].encode())
                stimulus.create_dataset("aibs_stimulus_amplitude_pa", data=float(sweep["amplitude_pa"]))
                stimulus.create_dataset("gain", data=1.0)
                _series(acquisition, name, sweep["response_v"], "Volts", sampling_rate_hz, quantize)
                stimulus_path = f"/stimulus/presentation/{name}"
                response_path = f"/acquisition/timeseries/{name}"
                _epoch(epochs, name, stimulus_path, response_path, 0, samples)
                start = int(sweep["experiment_start"])
                _epoch(
                    epochs,
                    f"Experiment_{int(sweep['sweep_number'])}",
                    stimulus_path,
                    response_path,
                    start,
                    int(sweep.get("experiment_end", samples)) - start,
                )
                spikes.create_dataset(name, data=np.asarray(sweep["spike_times_s"], dtype=np.float64))

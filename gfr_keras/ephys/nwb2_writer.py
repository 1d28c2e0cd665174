"""Write a synthetic cell's sweeps as an NWB 2 file (pynwb), laid out as Allen's NWB 2 files are.

Per sweep, a `CurrentClampStimulusSeries` (A) in `/stimulus/presentation` and a
`CurrentClampSeries` (V) in `/acquisition`, both with the sweep's
`sweep_number`, Allen's stimulus name as `stimulus_description`, and one row of
the intracellular recordings table; the spike times in
`/processing/spikes/Sweep_<n>` (timestamps in s from the sweep's start), as
ipfx's `nwb_append.append_spike_times` stores them; the cell in `Subject`
(species, genotype = cre line). With `quantize`, the data are the very float32
numbers the NWB 1 file of the same cell holds (`nwb.stored_values`), so both
files read to the same processed cell.
"""

import re
import warnings
from datetime import datetime, timezone

import numpy as np

from gfr_keras.ephys.nwb import stored_values
from gfr_keras.io_utils import atomic_path

#: Every bank file's session start (the cells are simulated, not recorded on a day).
SESSION_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
_GAP_S = 1.0  # between consecutive sweeps on the session's clock


def _compressed(values):
    from hdmf.backends.hdf5.h5_utils import H5DataIO

    return H5DataIO(data=values, compression="gzip", shuffle=True)


def _add_sweep(nwbfile, electrode, sweep, sampling_rate_hz, starting_time_s, quantize):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    number = np.uint32(sweep["sweep_number"])
    common = dict(electrode=electrode, rate=float(sampling_rate_hz), starting_time=float(starting_time_s), gain=1.0,
                  stimulus_description=sweep["stimulus_name"], sweep_number=number)
    what = f"{sweep['stimulus_name']} sweep {int(number)}"
    stimulus = CurrentClampStimulusSeries(
        name=f"stimulus_{int(number):03d}", description=f"{what}: injected current", data=_compressed(stored_values(sweep["stimulus_a"], "Amps", quantize)),
        unit="amperes", **common,
    )
    response = CurrentClampSeries(
        name=f"response_{int(number):03d}", description=f"{what}: membrane potential", data=_compressed(stored_values(sweep["response_v"], "Volts", quantize)),
        unit="volts", bias_current=0.0, bridge_balance=0.0, capacitance_compensation=0.0, **common,
    )
    nwbfile.add_intracellular_recording(electrode=electrode, stimulus=stimulus, response=response, id=int(number))


def _add_spike_times(nwbfile, sweeps):
    from pynwb import ProcessingModule, TimeSeries

    module = ProcessingModule(name="spikes", description="spike times of each sweep (s from the sweep's start)")
    for sweep in sweeps:
        times = np.asarray(sweep["spike_times_s"], dtype=np.float64)
        module.add(TimeSeries(name=f"Sweep_{int(sweep['sweep_number'])}", data=times, timestamps=times, unit="seconds",
                              description="spike (threshold) times; data repeats the timestamps, as in Allen's files"))
    nwbfile.add_processing_module(module)


def subject_from_allen_row(row):
    """`write_nwb2`'s subject keywords from a row of Allen's cell table (`donor__*`, `line_name`).

    Age "24 yrs" becomes ISO 8601 "P24Y"; an unknown age (Allen's mice) is the open
    range "P0D/" (NWB's range notation), an unknown sex "U".
    """
    def text(key):
        value = row.get(key)
        return value.strip() if isinstance(value, str) else ""

    age = re.fullmatch(r"(\d+) yrs?", text("donor__age"))
    return {
        "species": text("donor__species"),
        "cre_line": text("line_name"),
        "age": f"P{age.group(1)}Y" if age else "P0D/",
        "sex": {"Male": "M", "Female": "F"}.get(text("donor__sex"), "U"),
    }


def write_nwb2(path, sweeps, sampling_rate_hz, cell_id, species="", cre_line="", age="P0D/", sex="U", quantize=False):
    """Write one cell's sweeps to `path` atomically as NWB 2.

    Args:
        sweeps: the sweep dicts of `nwb.write_nwb` (`sweep_number`, `stimulus_name`,
            `stimulus_a` (A), `response_v` (V), `spike_times_s`).
        sampling_rate_hz: samples per second of every sweep.
        cell_id: the file's `identifier` (an integer: the cell id read back).
        species, cre_line, age, sex: the `Subject`'s species, genotype, age (ISO 8601) and sex.
        quantize: the numbers of `write_nwb(..., quantize=True)` (10 uV, 1 fA).
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject

    nwbfile = NWBFile(
        session_description=f"gfr-keras synthetic cell {int(cell_id)}: a model neuron recorded with Allen's stimulus set",
        identifier=str(int(cell_id)), session_start_time=SESSION_START, institution="gfr-keras (simulated)",
        subject=Subject(subject_id=str(int(cell_id)), species=species or None, genotype=cre_line or None, sex=sex,
                        age=age, description="a simulated cell; the donor of the real Allen cell it is built from"),
        experiment_description="Allen's current-clamp stimulus set (Long Square, Short Square, Ramp, Noise 1/2, Test)",
        keywords=["synthetic", "current clamp", "gfr-keras"],
    )
    device = nwbfile.create_device(name="simulated amplifier", description="gfr-keras spiking model")
    electrode = nwbfile.create_icephys_electrode(name="electrode_0", device=device, description="simulated patch electrode",
                                                 cell_id=str(int(cell_id)))
    start = 0.0
    for sweep in sweeps:
        _add_sweep(nwbfile, electrode, sweep, sampling_rate_hz, start, quantize)
        start += len(sweep["stimulus_a"]) / float(sampling_rate_hz) + _GAP_S
    _add_spike_times(nwbfile, sweeps)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")  # the temporary name; renamed after
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwbfile)

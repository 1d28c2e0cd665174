"""NWB 2 files written independently of gfr-keras (plain pynwb), as a lab would write them.

Imported by tests as `from nwb2_files import ...`. Each sweep starts with a test
pulse; voltages have hand-made action potentials at known times; no spike times
are stored; stimulus names are Allen's MIES codes in `stimulus_description`.
Currents are stored as int16 counts (`conversion` 1 pA), voltages as int16
counts of 10 uV with an `offset` of -70 mV, so the reader must apply both.
"""

from datetime import datetime, timezone

import numpy as np

RATE_HZ = 25_000
ONSET_S = 0.2
TEST_PULSE = (0.02, 0.03, -20.0)  # start s, end s, pA
#: (stimulus_description, role, seconds of stimulus, amplitude pA, spikes per second)
SWEEPS = (
    ("EXTPSMOKET180424_DA_0", "Test", 0.0, 0.0, 0.0),
    ("C1LSCOARSE150216_DA_0", "Long Square", 0.5, -50.0, 0.0),
    ("C1LSCOARSE150216_DA_0", "Long Square", 0.5, 100.0, 12.0),
    ("C1LSCOARSE150216_DA_0", "Long Square", 0.5, 150.0, 30.0),
    ("C1RP25PR1S141203_DA_0", "Ramp", 1.0, 200.0, 15.0),
    ("C1NSSEED_1150216_DA_0", "Noise 1", 1.0, 120.0, 20.0),
    ("C1NSSEED_1150216_DA_0", "Noise 1", 1.0, 120.0, 20.0),
    ("C1NSSEED_2150216_DA_0", "Noise 2", 1.0, 120.0, 25.0),
    ("C1NSSEED_2150216_DA_0", "Noise 2", 1.0, 120.0, 25.0),
)


def _action_potential():
    """A spike's voltage shape added to the baseline (mV), from its threshold on: 0.4 ms up, 1 ms down, 4 ms back."""
    samples = lambda seconds: int(round(seconds * RATE_HZ))
    rise = np.linspace(0.0, 85.0, samples(0.0004), endpoint=False)
    fall = np.linspace(85.0, -12.0, samples(0.001), endpoint=False)
    back = -12.0 * np.exp(-np.arange(samples(0.004)) / samples(0.001))
    return np.concatenate([rise, fall, back])


def sweep_arrays(number, role, stimulus_s, amplitude_pa, rate_hz, seed=0):
    """`(current_pa, voltage_mv, spike_samples)` of one sweep; spikes evenly spaced with jitter, inside the stimulus."""
    rng = np.random.default_rng([seed, number])
    total = int((ONSET_S + stimulus_s + 0.3) * RATE_HZ)
    current = np.zeros(total)
    start, end, pulse = TEST_PULSE
    current[int(start * RATE_HZ): int(end * RATE_HZ)] = pulse
    onset, stop = int(ONSET_S * RATE_HZ), int((ONSET_S + stimulus_s) * RATE_HZ)
    if role == "Ramp":
        current[onset:stop] = np.linspace(0.0, amplitude_pa, stop - onset)
    elif role.startswith("Noise"):
        noise = np.random.default_rng(int(role[-1])).normal(0.0, 0.2, stop - onset)  # same waveform for repeats
        current[onset:stop] = amplitude_pa * (1.0 + noise)
    else:
        current[onset:stop] = amplitude_pa
    current = np.round(current)  # whole pA: the file stores int16 counts of 1 pA
    voltage = -70.0 + 0.05 * current
    count = int(rate_hz * stimulus_s)
    spikes = np.array([], dtype=np.int64)
    if count:
        spacing = (stop - onset - 400) // count
        spikes = onset + 200 + spacing * np.arange(count) + rng.integers(0, spacing // 3, count)
    shape = _action_potential()
    for spike in spikes:
        voltage[spike: spike + len(shape)] += shape
    return current, voltage, spikes


def write_lab_file(path, descriptions=None, identifier="lab-cell-7f3a", table=True, seed=0):
    """Write the NWB 2 file and return `{sweep_number: (role, spike_samples)}`.

    `descriptions`: optional `{sweep_number: stimulus_description}` overriding `SWEEPS`';
    `table`: rows of the intracellular recordings table, else only series with sweep numbers.
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwbfile = NWBFile(
        session_description="whole-cell current clamp", identifier=identifier,
        session_start_time=datetime(2024, 5, 17, 10, 30, tzinfo=timezone.utc),
        subject=Subject(subject_id="m17", species="Mus musculus", genotype="Sst-IRES-Cre/wt;Ai14(RCL-tdT)/wt",
                        age="P56D", sex="F"),
    )
    device = nwbfile.create_device(name="MultiClamp 700B")
    electrode = nwbfile.create_icephys_electrode(name="electrode_0", device=device, description="patch pipette")
    truth = {}
    for number, (description, role, seconds, amplitude, rate) in enumerate(SWEEPS):
        description = (descriptions or {}).get(number, description)
        current, voltage, spikes = sweep_arrays(number, role, seconds, amplitude, rate, seed)
        common = dict(electrode=electrode, rate=float(RATE_HZ), starting_time=10.0 * number, gain=1.0,
                      stimulus_description=description, sweep_number=np.uint32(number))
        stimulus = CurrentClampStimulusSeries(name=f"stim_{number}", data=current.astype(np.int16), conversion=1e-12,
                                              unit="amperes", **common)
        counts = np.round((voltage + 70.0) * 100.0).astype(np.int16)  # 10 uV counts around -70 mV
        response = CurrentClampSeries(name=f"resp_{number}", data=counts, conversion=1e-5, offset=-0.07, unit="volts",
                                      **common)
        if table:
            nwbfile.add_intracellular_recording(electrode=electrode, stimulus=stimulus, response=response, id=number)
        else:
            nwbfile.add_stimulus(stimulus)
            nwbfile.add_acquisition(response)
        truth[number] = (role, spikes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return truth

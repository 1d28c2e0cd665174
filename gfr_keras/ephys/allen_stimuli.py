"""Allen Cell Types stimulus set for one synthetic cell, timed as allensdk's extractor expects.

Every sweep starts with a test pulse (-20 pA, 20-30 ms); the experiment starts
at `ONSET_S` = 1.02 s, where allensdk's extractor looks for Long Square,
Short Square and Ramp stimuli (`ephys_extractor.LONG_SQUARES_START`,
`SHORT_SQUARES_WINDOW_START`, `RAMPS_START`).

* Long Square: 1 s steps; subthreshold -90 to -30 pA (input resistance, tau:
  the extractor uses steps in (-100, 0) pA) and rheobase - 40 to
  rheobase + 140 pA in 20 pA steps (rheobase, f-I slope, the "hero" sweep at
  rheobase + 40 pA); sweeps end 2 s after the onset.
* Short Square: 3 ms pulses, three repeats just above the cell's short-pulse
  threshold and one just below.
* Ramp: 25 pA/s from the onset until 80 pA past the rheobase, where the
  recording stops (current and voltage 0 afterwards, outside the experiment).
* Noise 1 and Noise 2: frozen pink noise (CV 0.2) in three 3 s epochs at 0.75,
  1.0 and 1.5 x rheobase, 2 s apart, `repeats` times each (different
  waveforms for 1 and 2).
* Test: the test pulse alone.

`stimulus_protocol` builds these sweeps for one cell. `glif_protocol` is the GLIF bank's earlier, shorter
set (`gfr synth-cells --model glif`), onset at `GLIF_ONSET_S` = 1 s: Long Square, Ramp, Noise 1, Noise 2 and
Test, with the same test pulse and noise.
"""

import numpy as np

ONSET_S = 1.02
TEST_PULSE = (0.02, 0.03, -20.0)  # start s, end s, pA
EXPERIMENT_START_S = 0.1
SUBTHRESHOLD_PA = (-90.0, -70.0, -50.0, -30.0)
SUPRA_OFFSETS_PA = tuple(range(-40, 141, 20))
RAMP_PA_PER_S = 25.0
SHORT_SQUARE_MS = 3.0
GLIF_ONSET_S = 1.0


def pink_noise(n_samples, sampling_rate_hz, seed, low_hz=1.0, high_hz=100.0):
    """Unit-variance 1/f noise between `low_hz` and `high_hz` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sampling_rate_hz)
    spectrum = rng.normal(size=len(freqs)) + 1j * rng.normal(size=len(freqs))
    band = (freqs >= low_hz) & (freqs <= high_hz)
    spectrum[~band] = 0.0
    spectrum[band] /= np.sqrt(freqs[band])
    noise = np.fft.irfft(spectrum, n_samples)
    return noise / noise.std()


def _with_test_pulse(current_pa, rate, truncate=False):
    """`current_pa` with the test pulse set; `truncate`: its sample indices truncated (the GLIF bank's), not rounded."""
    start, end, amplitude = TEST_PULSE
    sample = int if truncate else (lambda seconds: int(round(seconds)))
    current_pa[sample(start * rate) : sample(end * rate)] = amplitude
    return current_pa


def _step(amplitude_pa, duration_s, total_s, rate):
    current = np.zeros(int(round(total_s * rate)))
    onset = int(round(ONSET_S * rate))
    current[onset : onset + int(round(duration_s * rate))] = amplitude_pa
    return _with_test_pulse(current, rate)


def long_square_amplitudes(rheobase_pa):
    """Subthreshold and suprathreshold step amplitudes (pA), without 0 or repeats."""
    supra = [round(rheobase_pa + offset, 1) for offset in SUPRA_OFFSETS_PA]
    return sorted({a for a in (*SUBTHRESHOLD_PA, *supra) if a != 0.0})


def stimulus_protocol(rheobase_pa, short_square_pa, sampling_rate_hz, noise_seeds=(11, 22), repeats=3):
    """One cell's stimulus protocol, the sweeps above: `[{"stimulus_name", "current_pa" [samples], "amplitude_pa",
    "experiment_end"}]`.

    `experiment_end` is the sample where valid data ends (the Ramp's stop; else the sweep's end).
    """
    rate = sampling_rate_hz
    sweeps = [("Test", _with_test_pulse(np.zeros(int(0.5 * rate)), rate), 0.0)]
    for amplitude in long_square_amplitudes(rheobase_pa):
        sweeps.append(("Long Square", _step(amplitude, 1.0, ONSET_S + 2.0, rate), amplitude))
    for scale in (1.1, 1.1, 1.1, 0.9):
        amplitude = float(np.ceil(scale * short_square_pa / 10.0) * 10.0)
        sweeps.append(("Short Square", _step(amplitude, SHORT_SQUARE_MS * 1e-3, ONSET_S + 0.5, rate), amplitude))
    sweeps.append(_ramp(rheobase_pa + 80.0, rate))
    onset = int(round(ONSET_S * rate))
    for name, seed in zip(("Noise 1", "Noise 2"), noise_seeds):
        current = noise_current(rheobase_pa, rate, seed, onset, int(1.0 * rate))
        for _ in range(repeats):
            sweeps.append((name, _with_test_pulse(current.copy(), rate), rheobase_pa))
    out = [{"stimulus_name": n, "current_pa": c, "amplitude_pa": a, "experiment_end": len(c)} for n, c, a in sweeps]
    ramp = next(s for s in out if s["stimulus_name"] == "Ramp")
    ramp["experiment_end"] = int(np.argmax(ramp["current_pa"])) + 1
    return out


def noise_current(rheobase_pa, rate, seed, onset_samples, tail_samples):
    """A Noise 1/2 sweep's current (pA) `[samples]`: three 3 s epochs of pink noise (CV 0.2) at 0.75, 1.0
    and 1.5 x the rheobase, 2 s apart, after `onset_samples` and before `tail_samples` of zero current."""
    epoch, gap = int(3.0 * rate), int(2.0 * rate)
    current = np.zeros(onset_samples + 3 * epoch + 2 * gap + tail_samples)
    noise = pink_noise(3 * epoch, rate, seed)
    for i, scale in enumerate((0.75, 1.0, 1.5)):
        begin = onset_samples + i * (epoch + gap)
        mean = scale * rheobase_pa
        current[begin : begin + epoch] = mean + 0.2 * mean * noise[i * epoch : (i + 1) * epoch]
    return current


def _ramp(end_pa, rate):
    onset = int(round(ONSET_S * rate))
    samples = int(end_pa / RAMP_PA_PER_S * rate)
    current = np.zeros(onset + samples + int(0.5 * rate))
    current[onset : onset + samples] = (np.arange(samples) + 1) * (RAMP_PA_PER_S / rate)
    return "Ramp", _with_test_pulse(current, rate), float(end_pa)


def glif_protocol(rheobase_pa, sampling_rate_hz, noise_seeds=(11, 22), repeats=3):
    """The GLIF bank's sweeps: `[(stimulus_name, current_pa [samples], amplitude_pa)]`.

    Long Square: 1 s steps from rheobase - 40 pA to rheobase + 200 pA in 20 pA
    steps (skipping 0 pA). Ramp: 25 pA/s from the onset to 2 x rheobase + 100 pA, where the
    recording stops (current and voltage 0 afterwards). Noise 1 and Noise 2:
    frozen pink noise (CV 0.2) in three 3 s epochs at 0.75, 1.0 and 1.5 x
    rheobase, `repeats` times each, different waveforms for 1 and 2. Test: the
    test pulse alone. Every sweep starts with a test pulse. Onset `GLIF_ONSET_S`; sample
    indices truncated, as the bank was made.
    """
    rate = sampling_rate_hz
    onset = int(GLIF_ONSET_S * rate)
    sweeps = [("Test", _with_test_pulse(np.zeros(int(0.5 * rate)), rate, truncate=True), 0.0)]
    for amplitude in np.arange(rheobase_pa - 40.0, rheobase_pa + 200.0 + 1e-9, 20.0):
        amplitude = float(round(amplitude, 1))
        if amplitude == 0.0:
            continue  # a 0 pA step has no onset; Allen's protocol has none either
        current = np.zeros(int(3.0 * rate))
        current[onset : onset + int(1.0 * rate)] = amplitude
        sweeps.append(("Long Square", _with_test_pulse(current, rate, truncate=True), amplitude))
    ramp_end_pa = 2.0 * rheobase_pa + 100.0
    ramp_samples = int(ramp_end_pa / RAMP_PA_PER_S * rate)
    current = np.zeros(onset + ramp_samples + int(0.5 * rate))
    current[onset : onset + ramp_samples] = np.linspace(0.0, ramp_end_pa, ramp_samples, endpoint=False) + RAMP_PA_PER_S / rate
    sweeps.append(("Ramp", _with_test_pulse(current, rate, truncate=True), ramp_end_pa))
    for name, seed in zip(("Noise 1", "Noise 2"), noise_seeds):
        current = noise_current(rheobase_pa, rate, seed, onset, onset)
        for _ in range(repeats):
            sweeps.append((name, _with_test_pulse(current.copy(), rate, truncate=True), rheobase_pa))
    return sweeps

"""The synthetic banks by neuron model: what `gfr synth-cells --model` chooses from.

Each bank module has the interface of `gfr_keras.ephys.cell_bank`:
`choose_cells(metadata, n_cells, seed, per_line=1)`, `write_cells(cache_dir, rows,
sampling_rate_hz, seed=0, noise_repeats=3, formats=("nwb1",))` and
`DEFAULT_SAMPLING_RATE_HZ`.
"""

from gfr_keras.ephys import spiking_bank, synthetic

#: model name -> its bank: integrate-and-fire cells with action potentials, or allensdk's GLIF cells.
BANK_MODELS = {"spiking": spiking_bank, "glif": synthetic}

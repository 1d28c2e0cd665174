"""Electrophysiology in, binned cells out: Allen Cell Types recordings read through
allensdk (`allen`, `pipeline`), NWB 2 files read through pynwb (`nwb2`,
`nwb2_pipeline`), sweeps given as arrays (`sweeps`), their stimulus roles
(`stimulus_roles`) and spike times (`spike_detection`), windowed and binned
(`binning`), the processed-cell HDF5 format (`processed`), and the offline
synthetic cell banks: what they share (`cell_bank`: choosing real cells, the
CellTypesCache folder), their neuron models by name (`bank_models`: `spiking_bank`,
GLIF `synthetic`), the stimuli (`allen_stimuli`), the NWB 1 and NWB 2 writers
(`nwb`, `nwb2_writer`) and the folder's record (`bank_folder`).

Layering: imports only numpy/scipy/pandas/h5py/allensdk/pynwb and the base modules
(`errors`, `io_utils`, `units`, `run_settings`, `allen_metadata`, `process_pool`); it knows
nothing of Keras or of the neuron model.
"""

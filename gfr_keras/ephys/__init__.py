"""Electrophysiology in, binned cells out: Allen Cell Types recordings read through
allensdk (`allen`, `pipeline`), NWB 2 files read through pynwb (`nwb2`,
`nwb2_pipeline`), sweeps given as arrays (`sweeps`), their stimulus roles
(`stimulus_roles`) and spike times (`spike_detection`), windowed and binned
(`binning`), the processed-cell HDF5 format (`processed`), and the offline
synthetic cell bank with its NWB 1 and NWB 2 writers (`nwb`, `nwb2_writer`) and its
folder's record (`bank_folder`).

Layering: imports only numpy/scipy/h5py/allensdk/pynwb and the base modules
(`errors`, `io_utils`, `units`, `run_settings`); it knows nothing of Keras or of the neuron model.
"""

"""Electrophysiology in, binned cells out: Allen Cell Types recordings read through
allensdk, windowed and binned (`binning`), the processed-cell HDF5 format
(`processed`), and the offline synthetic cell bank with its NWB writer and its
folder's record (`bank_folder`).

Layering: imports only numpy/h5py/allensdk and the base modules (`io_utils`,
`units`, `errors`, `run_settings`); it knows nothing of Keras or of the neuron model.
"""

"""Networks of GFR neurons: the line-by-line MNIST model, its data and the Keras
baselines it is compared with.

Layering: imports `neurons`, `dataset` (biological neurons from records) and the
base modules; never `ephys`, `fitting` or `serving`.
"""

"""Fitting GFR neurons to processed cells, a whole population at once: the fit data
(stimulus batches, f-I pairs), the protocol (`FitConfig`), the per-unit optimizer,
the trainer and the selection of the best run per cell.

Layering: imports `neurons`, `dataset` (EVR) and `ephys` (stimulus names);
never `network` or `serving`.
"""

from gfr_keras.fitting.config import FitConfig, load_fit_config

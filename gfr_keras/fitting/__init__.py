"""Fitting GFR neurons to processed cells, a whole population at once: the fit data
(stimulus batches, f-I pairs), the fit config (`FitConfig`: how the fit proceeds), the
per-unit optimizer, the trainer and the selection of the best run per cell.

Words: a *fit config* is a `FitConfig` (a config file in the published layout); a
*configuration* is a (model bin, activation bin) pair in ms (`CONFIGURATIONS`).

Layering: imports `neurons`, `dataset` (EVR) and `ephys` (stimulus names);
never `network` or `serving`.
"""

from gfr_keras.fitting.config import FitConfig, load_fit_config

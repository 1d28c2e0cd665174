"""The `gfr` command-line pipeline: one module per stage, dispatched by `training.cli`."""

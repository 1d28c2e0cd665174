# The two set-up commands of the README: `make demo` and `make test`.
# Each installs uv if it is missing, syncs the locked environment, then runs.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --no-sync
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-tensorflow test-jax benchmark env

env:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-extras

# The reference neurons, then the offline ingestion path: a 12-cell synthetic bank
# (GLIF cells built from real Allen cells) read back through allensdk and binned.
demo: env
	$(RUN) gfr demo --out demo_output
	$(RUN) gfr synth-cells --n 12 --seed 0 --out demo_output/cell_bank
	$(RUN) gfr preprocess --manifest demo_output/cell_bank/manifest.json --out demo_output/processed --plots

# Everything under the TensorFlow backend, then the backend-agnostic tests under JAX.
test: env
	$(RUN) pytest -q
	KERAS_BACKEND=jax $(RUN) pytest -q -m backend_agnostic

benchmark: env
	$(RUN) python benchmarks/cell_throughput.py

# The two set-up commands of the README: `make demo` and `make test`.
# Each installs uv if it is missing, syncs the locked environment, then runs.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --no-sync
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test benchmark env shipped-dataset notebooks

env:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@# Every extra but gpu (TensorFlow's CUDA wheels, gigabytes; `uv sync --extra gpu` on a GPU machine).
	$(UV) sync --frozen --extra allen --extra jax --extra serving --extra notebooks
	@# The browser tests of `gfr report` drive Debian's chromium (Playwright cannot download its own here).
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The demo, offline: the reference neurons on a test current; a 12-cell synthetic bank (spiking
# cells calibrated to real Allen cells) read back through allensdk and binned; fitted at all six
# configurations in one process (quick test protocol, fit figures of the 3 best cells); merged into
# the demo's own dataset; the explorer site; line-by-line MNIST (offline split, 256 neurons) with
# default neurons and with biological neurons from the demo's dataset (>= 0.80 test accuracy each);
# SavedModels of the network and of the demo's neurons; a summary of what was made and where.
CONFIGURATIONS := 10,20 10,100 20,20 20,100 50,100 100,100
demo: env
	$(RUN) gfr demo --out demo_output
	$(RUN) gfr synth-cells --n 12 --seed 0 --out demo_output/cell_bank
	$(RUN) gfr preprocess --manifest demo_output/cell_bank/manifest.json --out demo_output/processed --plots
	$(RUN) gfr fit --processed demo_output/processed --configurations all --config test --plot-best 3 \
		--out 'demo_output/fits_{bin}_{actv}'
	$(RUN) gfr build-dataset --fits demo_output/fits_* --out demo_output/gfr_dataset.json
	$(RUN) gfr report --dataset demo_output/gfr_dataset.json --processed demo_output/processed --fits demo_output/fits_* --out demo_output/report
	$(RUN) gfr train-network --epochs 6 --out demo_output/lmnist_default
	$(RUN) gfr train-network --epochs 4 --neurons biological --dataset demo_output/gfr_dataset.json \
		--sample-with-replacement --freeze-neurons --out demo_output/lmnist_biological
	$(RUN) gfr export lmnist gfr-neurons --run demo_output/lmnist_default \
		--dataset demo_output/gfr_dataset.json --configuration 20,20 --out saved_models
	$(RUN) gfr summary demo_output --saved-models saved_models

# Everything under the TensorFlow backend, then the backend-agnostic tests under JAX. Test files are
# spread over the machine's cores (at most 4: each worker builds the session's cell bank again);
# from a fresh clone on CI's 2 cores the TensorFlow pass took 482 s instead of 766 s (the JAX pass, 125 s, gains
# nothing from it: XLA's compiles already use both cores). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test: env
	$(RUN) pytest -q -n $(TEST_WORKERS) --dist loadfile
	KERAS_BACKEND=jax $(RUN) pytest -q -m backend_agnostic

benchmark: env
	$(RUN) python benchmarks/cell_throughput.py
	$(RUN) python benchmarks/lmnist_throughput.py
	$(RUN) python benchmarks/report_scale.py

# Re-execute the four notebooks as CI does (GFR_QUICK=1) and rewrite their committed outputs.
notebooks: env
	$(RUN) python notebooks/execute.py --write

# The dataset shipped in gfr_keras/resources/gfr_dataset.json: the full default protocol,
# all six configurations, on a 200-cell synthetic bank (2026-12-03: the bank 50 min on 2 heavily loaded cores, the fit 4 min).
SHIP := build/shipped
shipped-dataset: env
	@# 200 spiking cells (a third human, up to 4 per mouse cre line), 25 kHz: extractor-compatible at half the 50 kHz cost
	$(RUN) gfr synth-cells --n 200 --per-line 4 --seed 2026 --sampling-rate 25000 --batch 16 --out $(SHIP)/cell_bank
	$(RUN) gfr preprocess --manifest $(SHIP)/cell_bank/manifest.json --out $(SHIP)/processed
	KERAS_BACKEND=jax $(RUN) gfr fit --processed $(SHIP)/processed --configurations all --config default \
		--out '$(SHIP)/fits_{bin}_{actv}'
	@# also writes gfr_keras/resources/gfr_dataset.provenance.json: bank, fit settings, backend, version, date
	$(RUN) gfr build-dataset --fits $(SHIP)/fits_* --out gfr_keras/resources/gfr_dataset.json

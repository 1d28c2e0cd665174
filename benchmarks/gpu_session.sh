#!/usr/bin/env bash
# Issue #13's GPU measurements in ONE command, for a lent H100/H200 (JAX, no TensorFlow, no network).
#
# From the repository root, with Keras carried as wheels (docs/fitting_at_scale.md, "Measuring on a GPU"):
#     bash benchmarks/gpu_session.sh
# Steps, each time-boxed (seconds, env GFR_LIMIT_<STEP>), results under $OUT (default runs/gpu_session):
#     env            nvidia-smi, jax devices, versions                               -> env.txt
#     whole_database gfr fit's pipeline, 2,333 benchmark cells, all six configurations,
#                    the default protocol, TensorFlow import blocked                 -> whole_database.json/.md
#     scan_ceiling   plain jax.lax.scan of the recurrence vs the engine's epoch      -> scan_ceiling.md
#     fit_throughput cell-epochs/s at 1, 100, 1,000, 7,000 units                     -> fit_throughput.md
#     lmnist         L-MNIST samples/s: GFR, SimpleRNN, GRU, LSTM under JAX          -> lmnist_throughput.md
# and session.log (everything printed): 7 files, within the 8 the device tool returns. Limits total 570 s.
# GFR_STEPS="scan_ceiling lmnist" runs only those steps; GFR_ARGS_<STEP> replaces a step's arguments
# (e.g. GFR_ARGS_WHOLE_DATABASE="--cells 1000"); GFR_SMALL=1 shrinks every size (a CPU check, limits x3).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_session}
mkdir -p "$OUT"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 TQDM_MININTERVAL=30 MPLBACKEND=Agg
export MPLCONFIGDIR=${MPLCONFIGDIR:-/tmp/gfr_mpl}
PY=${PYTHON:-python3}
WHEELS=${GFR_WHEELS:-build/wheels}
STEPS=${GFR_STEPS:-env whole_database scan_ceiling fit_throughput lmnist}
WORK=${GFR_WORK:-/tmp/gfr_gpu_session}  # the benchmark cells and fits (gigabytes): not under $OUT
LOG="$OUT/session.log"

if ! $PY -c "import keras" 2>/dev/null; then  # the device image has JAX but no Keras: install the carried wheels
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gfr_site "$WHEELS"/*.whl \
        || { echo "cannot install the wheels in $WHEELS (see docs/fitting_at_scale.md)" | tee -a "$LOG"; exit 1; }
    export PYTHONPATH="/tmp/gfr_site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"  # gfr_keras and training from this tree, not installed

if [ "${GFR_SMALL:-0}" = 1 ]; then
    SCAN="--cells 20 --repeats 2 --engine-epochs 3"; THROUGHPUT="--units 1 20 --epochs 3"
    DATABASE="--cells 12 --epochs 2 --activation-epochs 5"; LMNIST="--n-nodes 32 --steps 2 --rounds 1"
    SCALE=${GFR_LIMIT_SCALE:-3}  # a loaded 2-core CPU takes longer for the small sizes than a GPU machine for the full ones
else
    SCAN="--cells 1000 2048 7000"; THROUGHPUT="--units 1 100 1000 7000 --epochs 6"
    DATABASE="--cells 2333"; LMNIST="--n-nodes 256 --steps 20 --rounds 3"
fi
SCALE=${SCALE:-${GFR_LIMIT_SCALE:-1}}
SCAN=${GFR_ARGS_SCAN_CEILING:-$SCAN}; THROUGHPUT=${GFR_ARGS_FIT_THROUGHPUT:-$THROUGHPUT}
DATABASE=${GFR_ARGS_WHOLE_DATABASE:-$DATABASE}; LMNIST=${GFR_ARGS_LMNIST:-$LMNIST}

step() {  # step NAME LIMIT_S OUTPUT_PATH COMMAND...: run it time-boxed, output to the log and to OUTPUT_PATH
    local name=$1 limit=$2 file=$3; shift 3
    case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
    limit=$(eval echo "\${GFR_LIMIT_${name^^}:-$((limit * SCALE))}")
    echo "=== $name (limit ${limit}s): $*  [$(date -u +%H:%M:%S)]" | tee -a "$LOG"
    local started=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$file" >>"$LOG"
    local status=${PIPESTATUS[0]}
    echo "=== $name: exit $status after $((SECONDS - started)) s$([ "$status" = 124 ] && echo ' (TIME LIMIT)')" | tee -a "$LOG"
    grep -E '^\|' "$file" | tail -n 12  # the tables, for the caller's output tail
}

environment() {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
    $PY -c "import sys, jax, keras, numpy; print(sys.version.split()[0], 'jax', jax.__version__, 'keras', keras.__version__,
'numpy', numpy.__version__); print('devices', jax.devices()); print('tensorflow importable:',
__import__('importlib.util').util.find_spec('tensorflow') is not None)"
    nproc; free -g | head -2
}
export -f environment; export PY  # `timeout` runs programs, not functions: bash -c environment

rm -rf "$WORK"; mkdir -p "$WORK"
step env 40 "$OUT/env.txt" bash -c environment
step whole_database 320 "$WORK/whole_database.log" \
    $PY benchmarks/whole_database.py $DATABASE --no-tensorflow --out "$WORK/whole_database"
cp "$WORK"/whole_database/whole_database.{json,md} "$OUT"/ 2>/dev/null
step scan_ceiling 60 "$OUT/scan_ceiling.md" $PY benchmarks/scan_ceiling.py $SCAN
step fit_throughput 75 "$OUT/fit_throughput.md" $PY benchmarks/fit_throughput.py $THROUGHPUT
step lmnist 75 "$OUT/lmnist_throughput.md" $PY benchmarks/lmnist_throughput.py --part steps $LMNIST --models simple_rnn gru lstm gfr_default
echo "session done after $SECONDS s; results in $OUT" | tee -a "$LOG"

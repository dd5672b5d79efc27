#!/usr/bin/env bash
# One-command check of everything that needs an NVIDIA GPU, on a fresh machine with this checkout:
#
#     benchmarks/gpu_check.sh OUTDIR
#
# Builds the extension for the visible card only (its compute capability), runs tests/test_cuda.py,
# benchmarks/bench_ops.py and benchmarks/bench_data.py, and trains each branch briefly (tiny preset) on a
# synthetic dataset the script writes itself. Works offline: it uses the Python, torch, CMake, ninja,
# pybind11 and nvcc already installed (PYTHON, NVCC override them) and writes only to OUTDIR and a
# temporary folder, never into the checkout. Every step runs under `timeout` within an overall budget
# (GPU_CHECK_BUDGET seconds, default 450); a failed step is reported and the others still run.
# Writes OUTDIR/log.txt (everything) and OUTDIR/summary.md (card, driver, each step's result, the
# figures). Exits 0 when every step passed, 1 otherwise.
set -u -o pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd) || { echo "cannot create $1" >&2; exit 2; }
LOG=$OUT/log.txt
SUMMARY=$OUT/summary.md
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mgfast_gpu_check.XXXXXX")
PY=${PYTHON:-$(command -v python3 || command -v python)}
BUDGET=${GPU_CHECK_BUDGET:-450}
START=$SECONDS
: >"$LOG"
declare -a ROWS=()  # "step|result|seconds" for the summary table
FAILED=0
GPU_OK=1

log() { echo "$*" | tee -a "$LOG"; }

# step NAME LIMIT_SECONDS NEEDS_GPU COMMAND...: runs COMMAND (from $WORK, so that `python -m` does not
# import the checkout's mgfast, which lacks the GPU build) with its output in the log and in
# $WORK/NAME.out, and records the result.
step() {
    local name=$1 limit=$2 needs_gpu=$3
    shift 3
    local left=$((BUDGET - (SECONDS - START)))
    if [ "$needs_gpu" = 1 ] && [ "$GPU_OK" != 1 ]; then
        ROWS+=("$name|not run: no usable GPU (see above)|0"); FAILED=1; return 1
    fi
    if [ "$left" -lt 15 ]; then
        ROWS+=("$name|not run: the ${BUDGET}s budget is spent|0"); FAILED=1; return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    log ""
    log "=== $name (limit ${limit}s) === $*"
    local began=$SECONDS rc
    (cd "$WORK" && timeout --kill-after=10 "$limit" "$@") 2>&1 | tee "$WORK/$name.out" >>"$LOG"
    rc=${PIPESTATUS[0]}
    local took=$((SECONDS - began))
    if [ "$rc" = 0 ]; then
        ROWS+=("$name|ok|$took")
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        ROWS+=("$name|TIMEOUT after ${limit}s|$took"); FAILED=1
    else
        ROWS+=("$name|FAILED (exit $rc): $(grep -v '^\s*$' "$WORK/$name.out" | tail -n 1 | tr '|' '/' | cut -c1-160)|$took"); FAILED=1
    fi
    log "=== $name: exit $rc after ${took}s"
    return "$rc"
}

PKG=$WORK/pkg  # a copy of the package with the freshly built extension in it
export PYTHONPATH=$PKG:$ROOT/tests PYTHONUNBUFFERED=1 MPLBACKEND=Agg  # tests/: tiny_dataset, the references

# -- steps that need no GPU -------------------------------------------------------------------------
step environment 60 0 bash -c "echo \"checkout: $ROOT (\$(git -C '$ROOT' rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout'))\"; \
    echo \"python: $PY\"; '$PY' -c 'import sys, torch, numpy; print(\"Python\", sys.version.split()[0], \"torch\", torch.__version__, \"CUDA\", torch.version.cuda, \"numpy\", numpy.__version__)' && \
    { command -v cmake >/dev/null && cmake --version | head -n 1 || echo 'cmake: missing'; } && \
    { command -v ninja >/dev/null && echo \"ninja \$(ninja --version)\" || echo 'ninja: missing (make is used)'; } && \
    '$PY' -m pybind11 --version"
# The checkout's own (pure-Python) modules write the dataset: nothing is built or installed yet.
step dataset 120 0 env PYTHONPATH="$ROOT:$ROOT/tests" "$PY" -c "
from pathlib import Path
import mgfast
from tiny_dataset import make_dataset
print('mgfast from', mgfast.__file__)
# 8 subjects x 6 clips of 16-32 frames, 48 px crops, 2 validation subjects: all three branches train on it.
make_dataset(Path('$WORK/dataset'), subjects=8, clips_per_subject=6, test_clips=4, num_classes=3, frames=(16, 32),
             crop_size=48, val_subjects=2, seed=0)
print('dataset written:', '$WORK/dataset')"

# -- the GPU --------------------------------------------------------------------------------------------
NVCC=${NVCC:-$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })}
CARD=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
    log ""
    log "GPU CHECK STOPPED: nvidia-smi is not installed here, so no NVIDIA GPU can be used. Run this script on a machine with an NVIDIA GPU and driver."
    GPU_OK=0; ROWS+=("gpu|FAILED: no nvidia-smi (no NVIDIA driver on this machine)|0"); FAILED=1
elif ! CARD=$(nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>>"$LOG" | head -n 1) || [ -z "$CARD" ]; then
    log ""
    log "GPU CHECK STOPPED: nvidia-smi found no usable GPU (see its message above). Run this script on a machine with a working NVIDIA GPU."
    GPU_OK=0; ROWS+=("gpu|FAILED: nvidia-smi lists no GPU|0"); FAILED=1
elif [ -z "$NVCC" ]; then
    log ""
    log "GPU CHECK STOPPED: no CUDA compiler: put nvcc on PATH or set NVCC=/path/to/nvcc."
    GPU_OK=0; ROWS+=("gpu|FAILED: no nvcc|0"); FAILED=1
else
    log "GPU: $CARD; nvcc: $NVCC"
    ROWS+=("gpu|ok: $CARD|0")
fi
ARCH=$(echo "$CARD" | awk -F', ' '{print $3}' | tr -d '.')

# -- build for this card only, into a copy of the package -------------------------------------------
GENERATOR=()
command -v ninja >/dev/null 2>&1 && GENERATOR=(-G Ninja)
step build 240 1 bash -c "set -e; mkdir -p '$PKG'; cp -r '$ROOT/mgfast' '$PKG/'; rm -f '$PKG'/mgfast/_C*.so; \
    cmake -S '$ROOT' -B '$WORK/build' ${GENERATOR[*]} -DCMAKE_BUILD_TYPE=Release -DMGFAST_CUDA=ON \
        -DCMAKE_CUDA_COMPILER='$NVCC' -DCMAKE_CUDA_ARCHITECTURES=${ARCH}-real -DPython_EXECUTABLE='$PY' \
        -Dpybind11_DIR=\$('$PY' -m pybind11 --cmakedir); \
    cmake --build '$WORK/build' -j \$(nproc); \
    cp \$(find '$WORK/build' -name '_C*.so' | head -n 1) '$PKG/mgfast/'; \
    '$PY' '$ROOT/benchmarks/gpu_check_import.py'" \
    || GPU_OK=0

# -- tests, benchmarks, training ----------------------------------------------------------------------
step test_cuda 120 1 "$PY" -m pytest "$ROOT/tests/test_cuda.py" -c "$ROOT/pyproject.toml" --rootdir "$ROOT" -p no:cacheprovider -q -rfEs
step bench_ops 90 1 "$PY" "$ROOT/benchmarks/bench_ops.py"
step bench_data 90 1 "$PY" "$ROOT/benchmarks/bench_data.py" --device cuda
for modality in joint heatmap rgb; do
    step "train_$modality" 75 1 "$PY" -m mgfast.cli.main train "$WORK/dataset" --modality "$modality" --preset tiny \
        --out "$WORK/runs/$modality" --device cuda --epochs 2 --batch-size 8 --workers 2 --no-progress
done

# -- the summary ----------------------------------------------------------------------------------------
{
    echo "# mgfast GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- card (name, driver, compute capability, memory): ${CARD:-none found}"
    echo "- $(grep -m1 '^Python' "$WORK/environment.out" 2>/dev/null || echo "python: unknown")"
    echo "- nvcc: ${NVCC:-none} $( [ -n "$NVCC" ] && "$NVCC" --version 2>/dev/null | grep -o 'release [0-9.]*' )"
    echo "- $(head -n 1 "$WORK/environment.out" 2>/dev/null)"
    echo "- total: $((SECONDS - START)) s of a ${BUDGET} s budget; full output in log.txt"
    echo
    echo "| step | result | seconds |"
    echo "|---|---|---|"
    for row in "${ROWS[@]}"; do echo "| ${row//|/ | } |"; done
    if [ -f "$WORK/test_cuda.out" ]; then
        echo
        echo "## tests/test_cuda.py"
        echo
        echo '```'
        grep -E '^(FAILED|ERROR|SKIPPED)|passed|failed|skipped|error' "$WORK/test_cuda.out" | tail -n 30
        echo '```'
    fi
    for name in bench_ops bench_data; do
        [ -f "$WORK/$name.out" ] || continue
        echo
        echo "## benchmarks/$name.py"
        echo
        echo '```'
        tail -n 40 "$WORK/$name.out"
        echo '```'
    done
    for modality in joint heatmap rgb; do
        [ -f "$WORK/train_$modality.out" ] || continue
        echo
        echo "## mgfast train --modality $modality --preset tiny --epochs 2 (cuda)"
        echo
        echo '```'
        grep -v '^\s*$' "$WORK/train_$modality.out" | tail -n 12
        echo '```'
    done
} >"$SUMMARY"
log ""
log "summary: $SUMMARY"
cat "$SUMMARY"
rm -rf "$WORK"
exit "$FAILED"

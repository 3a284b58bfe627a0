#!/usr/bin/env bash
# The GPU check of issue 17 in one command (< 8 minutes on one H200):
# installs the wheels carried in .gpu_wheels/ (fetch_gpu_wheels.sh) into a
# folder of their own on PYTHONPATH, in front of the machine's own packages
# and without touching its torch, then runs gpu_check.py, which writes
# gpu_check.json, gpu_check.txt and gpu_check_logs.txt into OUT_DIR.
# Usage: bash tools/analysis_tools/gpu_check.sh OUT_DIR [gpu_check.py args]
#   e.g. bash tools/analysis_tools/gpu_check.sh /tmp/gc --cpu-smoke
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${1:?usage: gpu_check.sh OUT_DIR [gpu_check.py args]}
shift
WHEELS=$REPO/.gpu_wheels
PY=${PYTHON:-python3}
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  SITE=${SIMVTP_GPU_SITE:-/tmp/simvtp_gpu_site}
  if [ ! -f "$SITE/.installed" ]; then
    # --no-deps: every wheel needed is carried, and pip must not try to
    # replace torch or reach a registry
    "$PY" -m pip install -q --no-index --no-deps --no-compile \
      --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl \
      || { echo "gpu_check: installing $WHEELS failed" >&2; exit 1; }
    touch "$SITE/.installed"
  fi
  export PYTHONPATH=$REPO:$SITE${PYTHONPATH#$REPO}
fi
# one thread per DataLoader worker and per process; the benchmarks set
# their own threads where they measure
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONUNBUFFERED=1
"$PY" -c "import torch, mmengine, mmaction, decord, transformers; \
print('gpu_check: torch', torch.__version__, 'cuda', \
torch.cuda.is_available(), '| transformers', transformers.__version__, \
'| decord', decord.__version__)" || exit 1
CLIPS=()
[ -d "$WHEELS/clips" ] && CLIPS=(--clips-dir "$WHEELS/clips")
exec "$PY" "$REPO/tools/analysis_tools/gpu_check.py" --out "$OUT_DIR" \
  "${CLIPS[@]}" "$@"

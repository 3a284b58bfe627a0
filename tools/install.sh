#!/usr/bin/env bash
# Install simvtp and its stack into the current Python environment.
#   bash tools/install.sh          runtime stack + simvtp (editable)
#   bash tools/install.sh --tests  the same plus the test requirements
# An already installed torch is kept as it is (CPU, CUDA or ROCm build). Only
# when torch is missing is one installed: ${SIMVTP_TORCH:-torch==2.13.0}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PIP="$PY -m pip install --disable-pip-version-check -q"

if ! $PY -c 'import torch' >/dev/null 2>&1; then
  echo "[simvtp] torch not found: installing ${SIMVTP_TORCH:-torch==2.13.0}"
  $PIP "${SIMVTP_TORCH:-torch==2.13.0}"
fi
# pin the torch that is there, so no requirement can replace it
TORCH_PIN=$($PY -c 'import torch; print("torch==" + torch.__version__)')
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "$TORCH_PIN" > "$CONSTRAINTS"

EXTRA=""
if [ "${1:-}" = "--tests" ]; then
  EXTRA="-r requirements/tests.txt"
  # deepspeed (an sdist) installs as pure Python; its ops compile on first use
  export DS_BUILD_OPS=${DS_BUILD_OPS:-0}
fi
$PIP -c "$CONSTRAINTS" -r requirements/runtime.txt $EXTRA
$PIP -c "$CONSTRAINTS" --no-deps -e .
$PY -c 'import simvtp, torch; print(f"[simvtp] {simvtp.__version__} ready (torch {torch.__version__})")'

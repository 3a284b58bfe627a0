#!/usr/bin/env bash
# Install simvtp and its stack into the current Python environment.
#   bash tools/install.sh          runtime stack + simvtp (editable)
#   bash tools/install.sh --tests  the same plus the test requirements (and,
#                                  best effort, torchcodec as below)
#   bash tools/install.sh --torchcodec  the runtime stack plus torchcodec, the
#       alternative video decoder (TorchCodecInit / TorchCodecDecode): the
#       CPU release built for the installed torch (torch 2.X <-> 0.X; PyPI's
#       torchcodec >= 0.14 are CUDA builds) and FFmpeg's shared libraries,
#       from apt (Debian/Ubuntu, as root) when none are found. Elsewhere:
#       conda install -c conda-forge "ffmpeg<8", or your distribution's
#       libavdevice/libavfilter packages.
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

# torchcodec for the installed torch; FFmpeg libraries from apt if missing.
# $1 = strict: fail when it cannot be made to work; else warn and go on.
install_torchcodec() {
  local strict=$1 spec
  # torch 2.X pairs with torchcodec 0.X; from 0.14 PyPI has CUDA builds only
  spec=$($PY -c 'import torch; v = torch.__version__.split("+")[0].split(".")
top = 99 if torch.version.cuda else 13
print(f"torchcodec==0.{v[1]}.*" if v[0] == "2" and 10 <= int(v[1]) <= top else "")')
  if [ -z "$spec" ]; then
    echo "[simvtp] no CPU torchcodec release on PyPI is known for this torch; see README (decoders)"
    [ "$strict" = strict ] && return 1 || return 0
  fi
  $PIP --no-deps "$spec" || { [ "$strict" = strict ] && return 1 || return 0; }
  local check='from torchcodec.decoders import VideoDecoder'
  if ! $PY -c "$check" >/dev/null 2>&1 && command -v apt-get >/dev/null \
      && [ "$(id -u)" = 0 ]; then
    local pkg
    pkg=$(apt-cache search --names-only '^libavdevice[0-9]+$' 2>/dev/null | awk 'NR==1{print $1}')
    if [ -z "$pkg" ]; then apt-get update -qq >/dev/null 2>&1 || true
      pkg=$(apt-cache search --names-only '^libavdevice[0-9]+$' 2>/dev/null | awk 'NR==1{print $1}'); fi
    # libavdevice pulls in libavcodec/format/filter/util, swscale, swresample
    [ -n "$pkg" ] && echo "[simvtp] FFmpeg libraries for torchcodec: apt-get install $pkg" \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null || true
  fi
  if $PY -c "$check" >/dev/null 2>&1; then
    echo "[simvtp] torchcodec ready ($spec)"
  else
    echo "[simvtp] torchcodec installed but FFmpeg 4-7 shared libraries are missing: install them (see tools/install.sh) or keep decord"
    [ "$strict" = strict ] && return 1
  fi
  return 0
}

EXTRA=""
TORCHCODEC=""
for arg in "$@"; do
  case "$arg" in
    --tests)
      EXTRA="-r requirements/tests.txt"
      # deepspeed (an sdist) installs as pure Python; its ops compile on
      # first use
      export DS_BUILD_OPS=${DS_BUILD_OPS:-0}
      [ -z "$TORCHCODEC" ] && TORCHCODEC=best-effort ;;
    --torchcodec) TORCHCODEC=strict ;;
    *) echo "usage: bash tools/install.sh [--tests] [--torchcodec]" >&2; exit 2 ;;
  esac
done
$PIP -c "$CONSTRAINTS" -r requirements/runtime.txt $EXTRA
$PIP -c "$CONSTRAINTS" --no-deps -e .
if [ -n "$TORCHCODEC" ]; then install_torchcodec "$TORCHCODEC"; fi
$PY -c 'import simvtp, torch; print(f"[simvtp] {simvtp.__version__} ready (torch {torch.__version__})")'

#!/usr/bin/env bash
# Download, here, what gpu_check.sh needs on a GPU machine that reaches no
# package registry (python 3.12, torch with CUDA, transformers 5.x, none of
# the OpenMMLab stack): the cp312 / pure-Python wheels simvtp imports that
# the machine lacks, and the 596x336 H.264 clips of the data stage (that
# machine has no H.264 encoder: PyAV is not there). Everything goes into
# .gpu_wheels/ (git-ignored), which the device tool carries:
#   run(command='bash tools/analysis_tools/gpu_check.sh $OUT',
#       carry=['.gpu_wheels'])
# Usage: bash tools/analysis_tools/fetch_gpu_wheels.sh [--no-clips]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$REPO/.gpu_wheels
mkdir -p "$DEST"
# torch, numpy, opencv, pyyaml, rich, matplotlib, scipy, einops, timm,
# safetensors, regex, requests, tqdm, filelock, packaging, pillow are
# there already; transformers is there but 5.x (mmaction2 1.2.0 needs
# < 4.56), so it travels with its tokenizers and huggingface-hub (< 1.0);
# yapf (mmengine) needs platformdirs, which that machine lacks.
WHEELS=(
  mmengine==0.10.7 mmcv-lite==2.1.0 mmaction2==1.2.0 decord==0.6.0
  transformers==4.55.4 tokenizers==0.21.4 huggingface-hub==0.36.0
  addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 platformdirs==4.14.9
)
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux2010_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
  -d "$DEST" "${WHEELS[@]}"
# one version of each: pip refuses two
if [ "$(ls "$DEST"/*.whl | wc -l)" -ne "${#WHEELS[@]}" ]; then
  echo "fetch_gpu_wheels: expected ${#WHEELS[@]} wheels in $DEST, found:" >&2
  ls "$DEST"/*.whl >&2
  exit 1
fi
if [ "${1:-}" != "--no-clips" ]; then
  # the clips gpu_check.py's data stage reads (CLIPS there: 16 x 10 s)
  (cd "$REPO" && OMP_NUM_THREADS=1 PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH} \
    python3 -c "
import sys
sys.path.insert(0, 'tools/analysis_tools')
import benchmark_data as b, gpu_check as g
c = g.CLIPS
b.make_clips(b.parse_args(['--work-dir', '$DEST/clips', '--videos',
    str(c['videos']), '--min-seconds', str(c['seconds']), '--max-seconds',
    str(c['seconds']), '--size', c['size'], '--variants', 'native']))
")
fi
du -sh "$DEST"
# what travels: the tree (tracked + untracked files) and .gpu_wheels, 64 MiB
TREE=$(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
CARRY=$(du -sb "$DEST" | cut -f1)
echo "tree $((TREE / 1048576)) MiB + .gpu_wheels $((CARRY / 1048576)) MiB" \
  "= $(((TREE + CARRY) / 1048576)) MiB of 64 MiB"
if [ $((TREE + CARRY)) -gt $((64 * 1048576)) ]; then
  echo "fetch_gpu_wheels: over the 64 MiB the device tool carries" >&2
  exit 1
fi

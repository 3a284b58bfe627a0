#!/usr/bin/env bash
# Usage: tools/dist_extract_features.sh CONFIG CHECKPOINT VIDEO_LIST OUT NUM_PROCS [extract_features.py args...]
# Every process extracts its share of the videos; rank 0 merges into OUT.
CONFIG=$1
CHECKPOINT=$2
VIDEO_LIST=$3
OUT=$4
NPROCS=$5
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$(dirname "$0")/analysis_tools/extract_features.py" "$CONFIG" "$CHECKPOINT" \
    "$VIDEO_LIST" "$OUT" "${@:6}"

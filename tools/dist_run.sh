#!/usr/bin/env bash
# Usage: tools/dist_run.sh SCRIPT NUM_PROCS [SCRIPT args...]
# Runs tools/SCRIPT (train.py, test.py, analysis_tools/extract_features.py)
# in NUM_PROCS processes: one per GPU; on a machine without CUDA the processes
# use the CPU and gloo. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT.
SCRIPT=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$(dirname "$0")/$SCRIPT" "${@:3}"

#!/usr/bin/env bash
# Usage: tools/dist_extract_features.sh CONFIG CHECKPOINT VIDEO_LIST OUT NUM_PROCS [extract_features.py args...]
# Every process extracts its share of the videos; rank 0 merges into OUT.
# (multi-node variables: tools/dist_run.sh)
exec "$(dirname "$0")/dist_run.sh" analysis_tools/extract_features.py "$5" \
    "$1" "$2" "$3" "$4" "${@:6}"

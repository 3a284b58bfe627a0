"""One rank raising fails the whole distributed job fast, with its error.

``tools/dist_train.sh`` with 2 CPU processes (gloo); a test-only hook
raises on rank 1 before iteration 2 while rank 0 goes on into DDP's
all-reduce. Without a launcher that notices, rank 0 would wait there until
the collective timeout (30 min by default).

What happens: torchrun's agent sees rank 1 exit and SIGTERMs rank 0 (gloo
also reports the closed connection to rank 0 at once). ``tools/train.py``
adds: the failing rank records its exception for torchrun's summary and
leaves with ``os._exit`` (no shutdown that could block), and a rank that
only saw a peer die waits a moment, so the summary names rank 1's error as
the root cause instead of rank 0's "connection closed".
"""
import os
import subprocess
import time

from tests.test_reliability.helpers import (REPO, env, make_dataset,
                                            write_config)


def test_rank_failure_fails_job_fast_with_that_ranks_error(
        tmp_path, tiny_tokenizer_dir):
    ann, test_ann = make_dataset(str(tmp_path), num=8)
    cfg = write_config(tmp_path / 'cfg.py', tiny_tokenizer_dir, ann, test_ann,
                       str(tmp_path / 'videos'), iters=6, interval=6,
                       hooks=[dict(type='RaiseOnRankHook', rank=1,
                                   at_iter=2)])
    work = tmp_path / 'work'
    start = time.time()
    proc = subprocess.run(
        ['bash', f'{REPO}/tools/dist_train.sh', cfg, '2', '--work-dir',
         str(work)], cwd=REPO, env=env(), capture_output=True, text=True,
        timeout=300)
    end = time.time()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    raised_at = float((work / 'raised_at').read_text())
    # seconds from the raise to the end of the job (default timeout: 1800)
    assert end - raised_at < 30, (end - raised_at, out[-3000:])
    assert end - start < 240
    assert 'RuntimeError: injected failure on rank 1 at iteration 2' in out
    root_cause = out[out.index('Root Cause'):]
    assert 'rank      : 1' in root_cause.split('====')[0]
    assert 'injected failure on rank 1' in root_cause

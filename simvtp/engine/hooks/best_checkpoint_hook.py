"""Test the checkpoint selected on the validation split, not the last one."""
import os.path as osp

from mmengine.hooks import Hook
from mmengine.logging import print_log

from ...registry import HOOKS


@HOOKS.register_module()
class LoadBestCheckpointHook(Hook):
    """Before testing, load the best checkpoint ``CheckpointHook(save_best=
    ...)`` recorded during this run.

    ``runner.test()`` after ``runner.train()`` (``test_after_train`` in
    tools/train.py) would otherwise evaluate the last epoch's weights. A
    test-only run (tools/test.py CONFIG CHECKPOINT) has no recorded best
    checkpoint and tests what it was given.

    Args:
        key: the message hub entry holding the path (``'best_ckpt'``; with
            several ``save_best`` metrics ``'best_ckpt_<metric>'``).
    """

    priority = 'VERY_LOW'

    def __init__(self, key: str = 'best_ckpt') -> None:
        self.key = key

    def before_test(self, runner) -> None:
        path = runner.message_hub.runtime_info.get(self.key)
        if not path:
            return
        if not osp.isfile(path):
            print_log(f'LoadBestCheckpointHook: {path} does not exist; '
                      'testing the current weights', logger='current',
                      level=30)
            return
        runner.load_checkpoint(path)
        print_log(f'testing the checkpoint selected on the validation '
                  f'split: {path}', logger='current')

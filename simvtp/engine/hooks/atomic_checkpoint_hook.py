"""A CheckpointHook whose saves a crash cannot corrupt.

mmengine 0.10's ``CheckpointHook`` writes checkpoints and the
``last_checkpoint`` pointer in place and, with ``max_keep_ckpts``, deletes
the oldest checkpoint (and the previous best one) *before* writing the new
one: a kill during a save leaves a truncated newest file, an empty pointer,
or (``max_keep_ckpts=1``) no checkpoint at all. This hook changes only the
order and the way files land:

1. the checkpoint is written under a temporary name in the same folder,
   fsynced and renamed into place;
2. then the ``last_checkpoint`` pointer (or the best-checkpoint record) is
   replaced the same way;
3. only then are the outdated checkpoints (or the previous best) removed.

So at every instant the pointer names a complete file. Temporaries left by
a killed process are removed at the next save. Remote backends (``s3://``
...) and ``FlexibleRunner`` strategies (whose collective saves need the same
file name on every rank) keep mmengine's write-in-place, with the safer
order of steps 2-3. Set it as the ``checkpoint`` default hook
(``configs/_base_/default_runtime.py`` does)::

    default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', ...))
"""
import os
import os.path as osp
import shutil

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner

from ...registry import HOOKS
from ...utils.atomic_io import (atomic_write_text, commit,
                                remove_stale_temporaries, temporary_name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` with crash-safe saves.

    Takes exactly ``CheckpointHook``'s arguments.
    """

    def _is_local(self) -> bool:
        from mmengine.fileio.backends import LocalBackend
        return isinstance(self.file_backend, LocalBackend) and \
            '://' not in str(self.out_dir)

    def _save(self, runner, filename: str, **kwargs) -> None:
        """``runner.save_checkpoint(out_dir, filename, ...)``, atomically."""
        if not self._is_local() or not isinstance(runner, Runner):
            runner.save_checkpoint(self.out_dir, filename,
                                   self.file_client_args,
                                   backend_args=self.backend_args, **kwargs)
            return
        final = osp.join(self.out_dir, filename)
        tmp = None
        if is_main_process():  # Runner.save_checkpoint writes on rank 0 only
            remove_stale_temporaries(self.out_dir)
            tmp = temporary_name(final)
        try:
            runner.save_checkpoint(
                self.out_dir, osp.basename(tmp) if tmp else filename,
                self.file_client_args, backend_args=self.backend_args,
                **kwargs)
            if tmp is not None and osp.exists(tmp):
                if osp.isdir(tmp) and osp.isdir(final):  # e.g. DeepSpeed
                    shutil.rmtree(final)
                commit(tmp, final)
        except BaseException:
            if tmp is not None:
                _remove(tmp)
            raise

    def _remove_checkpoint(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed saves folders
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        name = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, name)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._save(runner, name, save_optimizer=self.save_optimizer,
                   save_param_scheduler=self.save_param_scheduler,
                   meta=meta, by_epoch=self.by_epoch, **self.args)
        if not is_main_process():
            return
        # the pointer moves once the new file is complete; the old files go
        # once the pointer has moved
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                          self.last_ckpt)
        for old in outdated:
            self._remove_checkpoint(self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """As mmengine's, but the previous best file is removed only after
        the new best one is complete."""
        if not self.save_best:
            return
        step = runner.epoch if self.by_epoch else runner.iter
        ckpt_filename = self.filename_tmpl.format(step)
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])
        single = len(self.key_indicators) == 1
        updated = False
        for indicator, rule in zip(self.key_indicators, self.rules):
            score_key = 'best_score' if single else f'best_score_{indicator}'
            path_key = 'best_ckpt' if single else f'best_ckpt_{indicator}'
            best = runner.message_hub.get_info(score_key,
                                               self.init_value_map[rule])
            score = metrics[indicator]
            if score is None or not self.is_better_than[indicator](score,
                                                                    best):
                continue
            updated = True
            runner.message_hub.update_info(score_key, score)
            previous = self.best_ckpt_path if single else \
                self.best_ckpt_path_dict.get(indicator)
            name = f'best_{indicator}_{ckpt_filename}'.replace('/', '_')
            path = self.file_backend.join_path(self.out_dir, name)
            self._save(runner, name, save_optimizer=False,
                       save_param_scheduler=False, meta=meta, by_epoch=False)
            if single:
                self.best_ckpt_path = path
            else:
                self.best_ckpt_path_dict[indicator] = path
            runner.message_hub.update_info(path_key, path)
            if previous and previous != path and is_main_process():
                self._remove_checkpoint(previous)
                runner.logger.info(
                    f'The previous best checkpoint {previous} is removed')
            runner.logger.info(
                f'The best checkpoint with {score:0.4f} {indicator} at '
                f'{step} {"epoch" if self.by_epoch else "iter"} is saved '
                f'to {name}.')
        # save the latest checkpoint again: the message hub it holds must
        # know the new best file (a resumed run removes it when superseded)
        if updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, step, meta)


def _remove(path: str) -> None:
    try:
        if osp.isdir(path):
            shutil.rmtree(path)
        elif osp.exists(path):
            os.unlink(path)
    except OSError:
        pass

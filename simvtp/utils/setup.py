"""Runtime preparation shared by tools/train.py and tools/test.py."""
import os
import time

from mmengine.config import Config


def load_config(path: str, launcher: str = 'none', cfg_options=None,
                work_dir: str = None) -> Config:
    """A config file with the command line's overrides applied.

    ``work_dir`` falls back to the config's own, then to
    ``./work_dirs/<config name>``.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join(
            './work_dirs', os.path.splitext(os.path.basename(path))[0])
    return cfg


def prepare_runtime(cfg: Config) -> Config:
    """Adapt ``cfg`` to the machine and make sure its data exists.

    * On the CPU, a distributed launch uses the gloo backend and DDP
      without ``device_ids`` (a CPU module cannot take them); accelerators
      (CUDA, NPU, MLU, MUSA) keep the config's backend.
    * A config with ``synthetic_data=dict(root=..., ...)`` gets its embedded
      dataset generated when absent (rank 0 generates, the others wait);
      likewise ``synthetic_grounding_data`` (long videos with timed events)
      and ``synthetic_action_data`` (one-object clips labelled by motion).
    * A config with ``feature_extraction=dict(...)`` gets its clip features
      extracted (resumable, all ranks share the work) unless the feature
      file already holds every listed video
      (:func:`simvtp.apis.ensure_features`).
    * The config is validated (:func:`simvtp.utils.config_check.
      validate_config`) before the Runner builds anything; a bad value
      raises a ``ConfigError`` naming its key.
    """
    from simvtp.compat import device_is_cpu
    if device_is_cpu() and cfg.get('launcher', 'none') != 'none':
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel')
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
    synthetic = cfg.get('synthetic_data')
    if synthetic:
        ensure_synthetic_data(dict(synthetic))
    grounding = cfg.get('synthetic_grounding_data')
    if grounding:
        from simvtp.datasets.synthetic import generate_grounding_dataset
        ensure_synthetic_data(dict(grounding), generate_grounding_dataset)
    action = cfg.get('synthetic_action_data')
    if action:
        from simvtp.datasets.synthetic import generate_action_dataset
        ensure_synthetic_data(dict(action), generate_action_dataset)
    extraction = cfg.get('feature_extraction')
    if extraction:
        from simvtp.apis.feature_file import ensure_features
        ensure_features(dict(extraction))
    from .config_check import validate_config  # after the data exists
    validate_config(cfg)
    return cfg


def add_default_hooks(cfg: Config, hooks) -> Config:
    """Append each hook config of ``hooks`` whose type is not configured."""
    custom = list(cfg.get('custom_hooks') or [])
    present = {str(h.get('type', '')).split('.')[-1] for h in custom
               if isinstance(h, dict)}
    for hook in hooks:
        if hook['type'].split('.')[-1] not in present:
            custom.append(dict(hook))
    cfg.custom_hooks = custom
    return cfg


def ensure_synthetic_data(spec: dict, generate=None,
                          timeout: float = 3600) -> dict:
    """Generate the synthetic dataset described by ``spec`` if needed.

    ``generate`` defaults to :func:`~simvtp.datasets.synthetic.
    generate_synthetic_dataset`; any idempotent generator that writes
    ``root/meta.json`` last works.
    """
    if generate is None:
        from simvtp.datasets.synthetic import generate_synthetic_dataset
        generate = generate_synthetic_dataset
    rank = int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0)))
    meta = os.path.join(spec['root'], 'meta.json')
    if rank == 0:
        return generate(**spec)
    from simvtp.datasets.synthetic import read_meta
    start = time.time()
    # rank 0 writes meta.json with "complete": false first, true last
    while not (read_meta(spec['root']) or {}).get('complete'):
        if time.time() - start > timeout:
            raise TimeoutError(f'waited {timeout:.0f}s for rank 0 to write '
                               f'{meta}')
        time.sleep(2)
    return generate(**spec, progress=False)

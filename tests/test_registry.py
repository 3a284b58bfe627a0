"""simvtp registries are children of mmaction2's (DESIGN.md section 3)."""
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.registry import MODELS, TRANSFORMS


def test_simvtp_scope_builds_mmaction_transform():
    init_default_scope('simvtp')
    t = TRANSFORMS.build(dict(type='DecordInit'))
    assert type(t).__name__ == 'DecordInit'
    assert type(t).__module__.startswith('mmaction')


def test_simvtp_scope_builds_own_transform():
    init_default_scope('simvtp')
    t = TRANSFORMS.build(dict(type='PackVideoTextInputs'))
    assert type(t).__module__.startswith('simvtp')


def test_mmaction_scope_reaches_simvtp_by_prefix(mmaction_scope):
    from mmaction.registry import MODELS as MMACTION_MODELS
    from mmaction.registry import TRANSFORMS as MMACTION_TRANSFORMS
    from mmengine.utils import import_modules_from_strings
    cfg = Config(dict(custom_imports=dict(imports=['simvtp']),
                      default_scope='mmaction'))
    import_modules_from_strings(**cfg.custom_imports)
    t = MMACTION_TRANSFORMS.build(dict(type='simvtp.PackVideoTextInputs'))
    assert type(t).__module__.startswith('simvtp')
    pre = MMACTION_MODELS.build(dict(type='simvtp.VideoTextDataPreprocessor'))
    assert type(pre).__name__ == 'VideoTextDataPreprocessor'


def test_registry_parent_chain():
    assert MODELS.scope == 'simvtp'
    assert MODELS.parent.scope == 'mmaction'


def test_simvtp_scope_finds_mmaction_models_without_importing_them():
    """A fresh process that imported only simvtp builds mmaction2's
    Recognizer3D / TimeSformerHead by bare name from the simvtp scope."""
    import subprocess
    import sys
    code = ('import sys, simvtp\n'
            'from mmengine.registry import init_default_scope\n'
            'from simvtp.registry import MODELS\n'
            'init_default_scope("simvtp")\n'
            'assert "mmaction.models" not in sys.modules\n'
            'for name in ("Recognizer3D", "TimeSformerHead"):\n'
            '    assert MODELS.get(name) is not None, name\n')
    subprocess.run([sys.executable, '-c', code], check=True)

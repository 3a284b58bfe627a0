"""simvtp registries: children of mmaction2's, under the scope ``'simvtp'``.

A config with ``default_scope='simvtp'`` finds simvtp modules by bare name and
every mmaction2/mmengine module through the parent chain. A config of another
scope (e.g. mmaction) reaches ours with the ``simvtp.`` prefix once
``custom_imports=dict(imports=['simvtp'])`` has imported the package.
"""
from mmaction.registry import DATA_SAMPLERS as MMACTION_DATA_SAMPLERS
from mmaction.registry import DATASETS as MMACTION_DATASETS
from mmaction.registry import EVALUATOR as MMACTION_EVALUATOR
from mmaction.registry import HOOKS as MMACTION_HOOKS
from mmaction.registry import LOOPS as MMACTION_LOOPS
from mmaction.registry import METRICS as MMACTION_METRICS
from mmaction.registry import MODEL_WRAPPERS as MMACTION_MODEL_WRAPPERS
from mmaction.registry import MODELS as MMACTION_MODELS
from mmaction.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMACTION_OPTIM_WRAPPER_CONSTRUCTORS
from mmaction.registry import OPTIM_WRAPPERS as MMACTION_OPTIM_WRAPPERS
from mmaction.registry import OPTIMIZERS as MMACTION_OPTIMIZERS
from mmaction.registry import PARAM_SCHEDULERS as MMACTION_PARAM_SCHEDULERS
from mmaction.registry import TRANSFORMS as MMACTION_TRANSFORMS
from mmaction.registry import VISBACKENDS as MMACTION_VISBACKENDS
from mmaction.registry import VISUALIZERS as MMACTION_VISUALIZERS
from mmengine.registry import Registry

SCOPE = 'simvtp'


def _child(name, parent, location, *lazy):
    # mmengine imports only the current registry's locations on a lookup,
    # not its parent's: without mmaction2's own locations here, a bare
    # mmaction2 name (``Recognizer3D``, ``TimeSformerHead``) is not found
    # from the simvtp scope unless something imported mmaction.models.
    # ``lazy``: simvtp modules that ``import simvtp`` does not import
    # (they import mmaction.models, which is slow), registered at the
    # registry's first lookup instead.
    return Registry(name, parent=parent, scope=SCOPE,
                    locations=[f'simvtp.{loc}' for loc in (location, ) +
                               lazy] +
                    list(getattr(parent, '_locations', [])))


# TextPromptClsHead subclasses mmaction2's BaseHead
MODELS = _child('model', MMACTION_MODELS, 'models',
                'models.heads.text_prompt_cls_head')
MODEL_WRAPPERS = _child('model_wrapper', MMACTION_MODEL_WRAPPERS, 'models')
DATASETS = _child('dataset', MMACTION_DATASETS, 'datasets')
DATA_SAMPLERS = _child('data sampler', MMACTION_DATA_SAMPLERS, 'datasets')
TRANSFORMS = _child('transform', MMACTION_TRANSFORMS, 'datasets.transforms')
METRICS = _child('metric', MMACTION_METRICS, 'evaluation')
EVALUATOR = _child('evaluator', MMACTION_EVALUATOR, 'evaluation')
HOOKS = _child('hook', MMACTION_HOOKS, 'engine')
LOOPS = _child('loop', MMACTION_LOOPS, 'engine')
OPTIMIZERS = _child('optimizer', MMACTION_OPTIMIZERS, 'engine')
OPTIM_WRAPPERS = _child('optim_wrapper', MMACTION_OPTIM_WRAPPERS, 'engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMACTION_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMACTION_PARAM_SCHEDULERS,
                          'engine')
VISUALIZERS = _child('visualizer', MMACTION_VISUALIZERS, 'engine')
VISBACKENDS = _child('vis_backend', MMACTION_VISBACKENDS, 'engine')

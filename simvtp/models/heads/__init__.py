from .mlm_head import MLMHead
from .pixel_head import PixelReconstructionHead
from .qa_head import QAClassifierHead
from .vtc_head import VTCHead
from .vtm_head import VTMHead

__all__ = ['MLMHead', 'PixelReconstructionHead', 'QAClassifierHead',
           'TextPromptClsHead', 'VTCHead', 'VTMHead']


def __getattr__(name):
    # TextPromptClsHead subclasses mmaction2's BaseHead: importing it
    # imports mmaction.models, which `import simvtp` avoids. The registry
    # imports it at its first lookup (simvtp.registry); this makes
    # ``from simvtp.models.heads import TextPromptClsHead`` work too.
    if name == 'TextPromptClsHead':
        from .text_prompt_cls_head import TextPromptClsHead
        return TextPromptClsHead
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

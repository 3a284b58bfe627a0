from .mlm_head import MLMHead
from .pixel_head import PixelReconstructionHead
from .qa_head import QAClassifierHead
from .vtc_head import VTCHead
from .vtm_head import VTMHead

__all__ = ['MLMHead', 'PixelReconstructionHead', 'QAClassifierHead', 'VTCHead', 'VTMHead']

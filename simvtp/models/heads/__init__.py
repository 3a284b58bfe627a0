from .mlm_head import MLMHead
from .pixel_head import PixelReconstructionHead
from .vtc_head import VTCHead
from .vtm_head import VTMHead

__all__ = ['MLMHead', 'PixelReconstructionHead', 'VTCHead', 'VTMHead']

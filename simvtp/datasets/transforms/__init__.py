
from .formatting import PackVideoQAInputs, PackVideoTextInputs  # noqa: F401
from .grounding import PackGroundingInputs  # noqa: F401
from .text import TokenizeText  # noqa: F401
from .masking import TextMasking, TubeMasking  # noqa: F401
from .loading import DecordInitBytes  # noqa: F401
from .sampling import KeyframeSampleFrames  # noqa: F401
from .augment import VideoRandAugment, VideoRandomErasing  # noqa: F401
from .multi_clip import MultiClipDecode  # noqa: F401
from .torchcodec_decode import (TorchCodecDecode, TorchCodecInit,  # noqa: F401
                                with_torchcodec)

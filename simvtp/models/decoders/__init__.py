from .shared_decoder import SharedVideoTextDecoder
from .text_decoder import TextDecoder
from .video_decoder import VideoMAEDecoder

__all__ = ['VideoMAEDecoder', 'TextDecoder', 'SharedVideoTextDecoder']

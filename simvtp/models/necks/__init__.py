from .video_pool_neck import VideoPoolNeck

__all__ = ['VideoPoolNeck']

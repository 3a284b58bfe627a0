from .video_text_retriever import VideoTextRetriever

__all__ = ['VideoTextRetriever']

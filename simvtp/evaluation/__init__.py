from .metrics import VideoTextRetrievalMetric  # noqa: F401

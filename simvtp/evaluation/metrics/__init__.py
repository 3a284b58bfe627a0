from .retrieval_metric import VideoTextRetrievalMetric  # noqa: F401

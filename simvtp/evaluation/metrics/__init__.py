from .grounding_metric import TemporalGroundingMetric, grounding_recall  # noqa: F401
from .retrieval_metric import VideoTextRetrievalMetric  # noqa: F401

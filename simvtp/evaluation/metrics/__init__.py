from .grounding_metric import TemporalGroundingMetric, grounding_recall  # noqa: F401
from .retrieval_metric import VideoTextRetrievalMetric  # noqa: F401
from .vqa_metric import (MultipleChoiceScoreAccuracy,  # noqa: F401
                         OpenEndedQAAccuracy)
from .vtm_rerank_metric import VTMRerankRetrievalMetric, rerank_topk  # noqa: F401

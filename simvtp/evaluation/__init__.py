from .metrics import (MultipleChoiceScoreAccuracy,  # noqa: F401
                      OpenEndedQAAccuracy, TemporalGroundingMetric,
                      VideoTextRetrievalMetric, VTMRerankRetrievalMetric)

from .metrics import (TemporalGroundingMetric,  # noqa: F401
                      VideoTextRetrievalMetric, VTMRerankRetrievalMetric)

"""2D-TAN temporal grounding over pre-extracted video features."""
from .frame_pool import FrameAvgPool
from .fusion import HadamardFusion
from .lstm_query_encoder import LSTMQueryEncoder
from .map_conv import MapConv
from .proposal_map import (SparsePropMap, sparse_layer_geometry,
                           sparse_proposal_mask)
from .scaled_iou_loss import ScaledIoULoss
from .simvtp_query_encoder import SimVTPTextQueryEncoder
from .tan2d import TAN2D
from .temporal import iou_map, nms_1d, proposal_times, temporal_iou

__all__ = [
    'FrameAvgPool', 'HadamardFusion', 'LSTMQueryEncoder', 'MapConv',
    'SparsePropMap', 'ScaledIoULoss', 'SimVTPTextQueryEncoder', 'TAN2D',
    'iou_map', 'nms_1d', 'proposal_times', 'temporal_iou',
    'sparse_layer_geometry', 'sparse_proposal_mask'
]

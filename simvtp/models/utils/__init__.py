from .distributed import (all_gather_tensor, all_gather_with_grad,
                          get_rank_and_world)
from .pooling import masked_mean, pool_text, pool_video
from .pretrained_init import SimVTPPretrainedInit

__all__ = ['all_gather_tensor', 'all_gather_with_grad', 'get_rank_and_world',
           'masked_mean', 'pool_text', 'pool_video', 'SimVTPPretrainedInit']

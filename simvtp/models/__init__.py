from . import (algorithms, backbones, data_preprocessors, decoders,  # noqa: F401
               grounding, heads, layers, necks, retrievers, utils,
               vqa)

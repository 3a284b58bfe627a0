from . import algorithms, backbones, data_preprocessors, decoders, grounding, heads, layers, retrievers, utils  # noqa: F401

from . import algorithms, backbones, data_preprocessors, decoders, grounding, heads, layers, utils  # noqa: F401

from . import algorithms, backbones, data_preprocessors, decoders, heads, layers, utils  # noqa: F401

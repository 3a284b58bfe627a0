from . import algorithms, backbones, data_preprocessors, decoders, heads  # noqa: F401

from . import algorithms, backbones, data_preprocessors, decoders, grounding, heads, layers, utils, vqa  # noqa: F401

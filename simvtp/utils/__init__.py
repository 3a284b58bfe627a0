from .setup import ensure_synthetic_data, prepare_runtime  # noqa: F401

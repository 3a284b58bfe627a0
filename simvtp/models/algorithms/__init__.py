from .simvtp import SimVTP

__all__ = ['SimVTP']

from .reference_flow import ReferenceFlowSimVTP
from .simvtp import SimVTP

__all__ = ['SimVTP', 'ReferenceFlowSimVTP']

from .unified_vit import UnifiedViT

__all__ = ['UnifiedViT']

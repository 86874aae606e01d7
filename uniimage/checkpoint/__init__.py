from .pretrained import load_pretrained, save_pretrained

__all__ = ["load_pretrained", "save_pretrained"]

"""uniimage: TBAC-UniImage, one model that understands and draws."""

__version__ = "0.1.0"

from .config import UniImageConfig
from .errors import CheckpointError, ConfigError, InputError, UniImageError


def __getattr__(name):
    # Heavy imports (torch, transformers, diffusers) only when a model class is asked for.
    if name in ("UniImagePipeline", "UniImagePipelineOutput"):
        from . import pipelines

        return getattr(pipelines, name)
    if name == "UniImageModel":
        from .models import UniImageModel

        return UniImageModel
    raise AttributeError(name)


__all__ = ["UniImageConfig", "UniImageModel", "UniImagePipeline", "UniImagePipelineOutput",
           "CheckpointError", "ConfigError", "InputError", "UniImageError"]

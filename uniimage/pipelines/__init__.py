from .guidance import guidance_groups, guided_prediction
from .pipeline_uniimage import UniImagePipeline, UniImagePipelineOutput

__all__ = ["UniImagePipeline", "UniImagePipelineOutput", "guided_prediction", "guidance_groups"]

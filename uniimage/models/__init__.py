from .connector import Connector
from .ladder import ladder_indices
from .queries import QueryTokenEmbedding
from .sana import LadderSanaTransformer
from .uniimage import UniImageModel

__all__ = ["Connector", "LadderSanaTransformer", "QueryTokenEmbedding", "UniImageModel", "ladder_indices"]

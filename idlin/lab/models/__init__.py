"""Flax NNX next-token models `softmax(f(x)ᵀ g(y))` and their export to `Predictor` (docs/theory.md
§1)."""

from ._base import NextTokenModel as NextTokenModel
from ._export import ARCHITECTURES as ARCHITECTURES
from ._export import export_predictor as export_predictor
from ._export import make_model as make_model
from ._jacobian import JacobianRelation as JacobianRelation
from ._jacobian import jacobian_relation as jacobian_relation
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import MLPModel as MLPModel
from ._transformer import TransformerModel as TransformerModel

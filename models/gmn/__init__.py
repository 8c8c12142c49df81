"""ScaleGMN: graph metanetworks whose layers are generated from the input networks' derived symmetries."""

from models.gmn._blocks import (
    ActivationBlock,
    DerivativeBlock,
    InvariantMLP,
    Linear,
    ReScaleEq,
    ScaleEq,
    ScaleInv,
    normalise,
)
from models.gmn._encoder import GMNEncoder
from models.gmn._heads import EquivariantHead, InvariantHead
from models.gmn._layer import BidirectionalGMNLayer, ForwardGMNLayer, GMNLayer, invariant_pairs, make_layer
from models.gmn._scalegmn import AbstractScaleGMN, ScaleGMN, ScaleGMNEditor
from models.gmn._state import GMNState
from models.gmn._typed import FeatureType, FeatureTypeError, Typed
from models.gmn._train import cross_entropy, make_train_step, mse, warmup_adamw

__all__ = [
    "AbstractScaleGMN",
    "BidirectionalGMNLayer",
    "FeatureType",
    "FeatureTypeError",
    "ForwardGMNLayer",
    "Typed",
    "invariant_pairs",
    "make_layer",
    "ActivationBlock",
    "DerivativeBlock",
    "EquivariantHead",
    "GMNEncoder",
    "GMNLayer",
    "GMNState",
    "InvariantHead",
    "InvariantMLP",
    "Linear",
    "ReScaleEq",
    "ScaleEq",
    "ScaleGMN",
    "ScaleGMNEditor",
    "ScaleInv",
    "cross_entropy",
    "make_train_step",
    "mse",
    "normalise",
    "warmup_adamw",
]

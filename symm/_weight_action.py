"""The action of a group element on a point of a weight space, and on per-neuron features.

For hidden neuron ``i`` of layer ``l`` with scale ``q_i`` and ``σ(q z) = φ(q) σ(z) + c(q)``,
asking ``z'_{l+1} = P_{l+1} Q_{l+1} z_{l+1}`` forces

    W'_{l+1} = P_{l+1} Q_{l+1} W_{l+1} φ(Q_l)⁻¹ P_l⁻¹
    b'_{l+1} = P_{l+1} Q_{l+1} b_{l+1} − W'_{l+1} · (P_l c(q_l)).

The output layer has ``P = Q = 1``. After global average pooling the offset passes
through unchanged, so the conv→dense boundary is the dense formula with the kernel's
pooled column. φ and c of each layer come from ``space.layer_symmetries``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax.numpy as jnp

from symm._character import Character
from symm._group_element import GroupElement
from symm._neuron_features import NeuronFeatures
from symm._weight_params import Params, validate
from symm._weight_sampling import check_element

if TYPE_CHECKING:
    from symm._weight_space import WeightSpace


def act(space: "WeightSpace", g: GroupElement, params: Any, *, with_offset: bool = True) -> Params:
    """``g · params`` (``with_offset=False``: the linear part, for tangent vectors and ΔW, Δb)."""
    check_element(space, g)
    validate(space, params)
    layer_syms = space.layer_symmetries
    translations, shifts = space.translations, g.shifts_or_zeros()
    out = []
    for i, (w, b) in enumerate(params):
        dtype = w.dtype
        extra = (1,) * (w.ndim - 2)
        if i < space.num_layers - 1:  # rows: neurons of hidden layer i+1
            perm, q = g.perms[i], g.scales[i].astype(dtype)
            w = (q.reshape((-1, 1) + extra) * w)[perm]
            b = (q * b + shifts[i].astype(dtype))[perm] if with_offset else (q * b)[perm]
        if i > 0:  # columns: neurons of hidden layer i
            perm, q, shift = g.perms[i - 1], g.scales[i - 1].astype(dtype), shifts[i - 1].astype(dtype)
            sym, translation = layer_syms[i - 1], translations[i - 1]
            beta = translation.beta(shift)  # σ(q z + s) = β(s)·(φ(q)σ(z) + c(q)) + γ(s)
            phi = sym.character(q).astype(dtype) * beta
            w = (w / phi.reshape((1, -1) + extra))[:, perm]
            if with_offset and (sym.affine or translation.affine):
                c = jnp.broadcast_to(jnp.asarray(sym.offset_fn(q), dtype), q.shape) if sym.affine else jnp.zeros_like(q)
                c = (beta * c + translation.gamma(shift))[perm]
                w_pooled = w if w.ndim == 2 else jnp.sum(w, axis=(2, 3))
                b = b - w_pooled @ c
        out.append((w, b))
    return tuple(out)


def act_neurons(space: "WeightSpace", g: GroupElement, features: NeuronFeatures) -> NeuronFeatures:
    """Hidden layer ``l`` gets ``P_l · χ(q_l) · x`` for each channel's type ``χ``; input and output stay."""
    check_element(space, g)
    features.check_space(space)
    new = [features.features[0]]
    for l in range(1, space.num_layers):
        x = features.features[l]
        perm, q = g.perms[l - 1], g.scales[l - 1].astype(x.dtype)
        types = features.types[l]
        if isinstance(types, Character):
            factor = types(q).reshape((-1,) + (1,) * (x.ndim - 1))
        else:
            factor = jnp.stack([t(q) for t in types], axis=-1)
            factor = factor.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (len(types),))
        new.append((factor.astype(x.dtype) * x)[perm])
    new.append(features.features[-1])
    return NeuronFeatures(tuple(new), features.types)

"""Zoos that mix activations: each network keeps the group derived for its own activation.

A CNN zoo with ReLU and tanh networks has no single weight space worth the name: the
ReLU networks are symmetric under positive scalings, the tanh ones under sign flips,
and the only group common to both is the trivial one. So a mixed split stores each
network as ``Routed(params, which)``, where ``which`` indexes the ``RoutedSpace``
member (one ``symm.WeightSpace`` per activation) that the network lives in, and:

- ``RoutedSpace.sample`` / ``act`` move every network by an element of its own group,
  so augmentation and the symmetry stress test need no special case;
- ``RoutedGraphNet`` reads each network with the graph metanetwork built for its
  member's layout (one trunk per activation, both trained by the same loss), so it is
  invariant under each network's own group, never under only the common subgroup.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PRNGKeyArray

from models.graph import to_graph


class Routed(eqx.Module):
    """One network's weights and the index of the member space (activation) they live in."""

    params: Any
    which: Int[Array, ""]


def _select(which, options):
    """``options[which]`` for pytrees of the same structure (under vmap: one gather per leaf)."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves)[which], *options)


class RoutedSpace(eqx.Module):
    """The member weight spaces of a mixed zoo, one per activation; ``names[i]`` is member ``i``'s activation."""

    spaces: tuple = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)

    def __check_init__(self):
        if len(self.spaces) != len(self.names) or len(self.spaces) < 2:
            raise ValueError(f"a RoutedSpace needs two or more spaces, one name each; got {len(self.spaces)} "
                             f"spaces and {len(self.names)} names")
        shapes = {s.param_shapes for s in self.spaces}
        if len(shapes) != 1:
            raise ValueError(f"the member spaces of a mixed zoo must share one architecture; got shapes {shapes}")

    @property
    def param_shapes(self):
        return self.spaces[0].param_shapes

    @property
    def num_params(self) -> int:
        return self.spaces[0].num_params

    def __str__(self) -> str:
        return " | ".join(str(s) for s in self.spaces)

    def sample(self, key: PRNGKeyArray, *, dtype=None) -> tuple:
        """One element of every member's derived group; ``act`` applies the one of the network's member."""
        keys = jax.random.split(key, len(self.spaces))
        return tuple(s.sample(k, dtype=dtype) for s, k in zip(self.spaces, keys))

    def sample_outside(self, key: PRNGKeyArray, *, dtype=None) -> tuple:
        """One element of every member's larger group (``ValueError`` if a member has none)."""
        keys = jax.random.split(key, len(self.spaces))
        return tuple(s.sample_outside(k, dtype=dtype) for s, k in zip(self.spaces, keys))

    def act(self, g: tuple, x: Routed) -> Routed:
        moved = [s.act(gi, x.params) for s, gi in zip(self.spaces, g)]
        return Routed(_select(x.which, moved), x.which)


class RoutedGraphNet(eqx.Module):
    """One graph metanetwork per member space; each network is read by the one of its activation."""

    nets: tuple
    space: RoutedSpace = eqx.field(static=True)

    def __init__(self, space: RoutedSpace, build, *, key: PRNGKeyArray):
        """``build(member_space, key)`` makes the metanetwork for one member."""
        keys = jax.random.split(key, len(space.spaces))
        self.nets = tuple(build(s, k) for s, k in zip(space.spaces, keys))
        self.space = space

    def __call__(self, x: Routed, *, key: PRNGKeyArray | None = None):
        outputs = [net(to_graph(s, x.params), key=key) for net, s in zip(self.nets, self.space.spaces)]
        return _select(x.which, outputs)


def member_features(space, params, features) -> Array:
    """``features(weights)``, and for a ``Routed`` network its member as a one-hot vector after them.

    The baselines are told each network's activation too, as the routed graph models are."""
    if not isinstance(space, RoutedSpace):
        return features(params)
    x = features(params.params)
    return jnp.concatenate([x, jax.nn.one_hot(params.which, len(space.spaces), dtype=x.dtype)])


__all__ = ["Routed", "RoutedGraphNet", "RoutedSpace", "member_features"]

"""Data parallelism with ``jax.sharding``: one mesh over every device, batches split on ``data``.

Parameters and optimiser state are replicated; each batch is sharded on its leading
axis, and XLA inserts the gradient all-reduce. The same code runs on 1 or N devices
(and, after ``jax.distributed.initialize()``, on N hosts).
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def data_mesh() -> Mesh:
    """A 1-D mesh over all devices, axis ``"data"``."""
    return Mesh(np.asarray(jax.devices()), ("data",))


def replicate(mesh: Mesh, tree):
    """Every array leaf of ``tree`` copied to all devices (other leaves untouched)."""
    arrays, static = eqx.partition(tree, eqx.is_array)
    return eqx.combine(jax.device_put(arrays, NamedSharding(mesh, PartitionSpec())), static)


def shard_batch(mesh: Mesh, tree):
    """Split every leaf's leading (batch) axis over the ``data`` axis."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec("data")))


__all__ = ["data_mesh", "replicate", "shard_batch"]

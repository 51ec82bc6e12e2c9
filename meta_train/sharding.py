"""Populations sharded over devices: one `jit`, XLA inserts the reductions.

Every leaf of a `Population` whose leading axis is the population axis (pairs or members)
is split over a one-dimensional `Mesh` of all devices (`jax.devices()`: every local device,
or every device of every host after `jax.distributed.initialize()`); everything else
(theta, the meta-optimizer state, counters) is replicated. The estimators' jitted
functions are unchanged: GSPMD partitions their `vmap` over the population and turns the
mean over members into a cross-device reduction. No `pmap`, no hand-written collectives.

Full ES keeps no population between calls (its pairs are drawn inside each call): it takes
`pairs(mesh)` and constrains the pairs' axis to it inside its jitted estimate instead.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from meta_train.estimators import Population

AXIS = "population"


def device_mesh() -> Mesh | None:
  """A mesh over all devices, or None when there is only one."""
  devices = jax.devices()
  return Mesh(np.asarray(devices), (AXIS,)) if len(devices) > 1 else None


def pairs(mesh: Mesh) -> NamedSharding:
  """The population axis split over `mesh` (for arrays whose leading axis is the pairs)."""
  return NamedSharding(mesh, PartitionSpec(AXIS))


def population_size(population: Population) -> int | None:
  leaves = [x for x in jax.tree.leaves(population.inner) if np.ndim(x) >= 1]
  return leaves[0].shape[0] if leaves else None


def check_divisible(state: Any, mesh: Mesh) -> None:
  """Raises `ValueError` unless every population splits evenly over the mesh."""
  for population in _populations(state):
    size = population_size(population)
    if size is not None and size % mesh.size:
      raise ValueError(
        f"A population of {size} cannot be split evenly over {mesh.size} devices: make "
        f"num_pairs (or num_members) a multiple of {mesh.size}, or set "
        "--config.shard_population=False."
      )


def shard(state: Any, mesh: Mesh) -> Any:
  """`state` with its populations split over `mesh` and everything else replicated."""
  replicated = NamedSharding(mesh, PartitionSpec())
  split = NamedSharding(mesh, PartitionSpec(AXIS))

  def place(node):
    if isinstance(node, Population):
      size = population_size(node)
      return jax.tree.map(
        lambda x: jax.device_put(
          x, split if np.ndim(x) >= 1 and x.shape[0] == size else replicated
        ),
        node,
      )
    return jax.tree.map(lambda x: jax.device_put(x, replicated), node)

  return jax.tree.map(place, state, is_leaf=lambda x: isinstance(x, Population))


def _populations(state: Any) -> list[Population]:
  return [
    x
    for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, Population))
    if isinstance(x, Population)
  ]

"""DeepZero: coordinate-wise gradient estimation (CGE), dense or on a sparse coordinate set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from baselines.zeroth_order._mezo import require_zo_args


def _leaf_densities(params: Any, density: Any) -> list[float]:
  leaves = jax.tree.leaves(params)
  if callable(density):
    density = density(params)
  ds = [float(density)] * len(leaves) if np.isscalar(density) else jax.tree.leaves(density)
  if len(ds) != len(leaves):
    raise ValueError("density must be a float or give one float per parameter leaf.")
  for d in ds:
    if not 0.0 < float(d) <= 1.0:
      raise ValueError(f"densities must be in (0, 1], got {d}.")
  return [float(d) for d in ds]


def coordinates(key: jax.Array, params: Any, density: Any = 1.0) -> jax.Array:
  """Flat indices (into `ravel_pytree(params)`) of the coordinates CGE estimates this step.

  Density 1 on a leaf: all its coordinates. Below 1: `max(1, round(density * size))` of them
  drawn without replacement from `jax.random.fold_in(key, leaf_index)`.
  """
  leaves = jax.tree.leaves(params)
  out, offset = [], 0
  for i, (leaf, d) in enumerate(zip(leaves, _leaf_densities(params, density), strict=True)):
    n = int(np.prod(jnp.shape(leaf), dtype=int))
    if d >= 1.0:
      out.append(offset + jnp.arange(n))
    else:
      k = max(1, round(d * n))
      out.append(offset + jax.random.choice(jax.random.fold_in(key, i), n, (k,), replace=False))
    offset += n
  return jnp.concatenate(out).astype(jnp.int32)


def scale_by_cge(
  *,
  mu: float = 5e-3,
  density: float | Any | Callable[[Any], Any] = 1.0,
) -> optax.GradientTransformationExtraArgs:
  r"""DeepZero's coordinate-wise gradient estimate; the incoming `updates` are ignored.

  For each coordinate $i$ of the set $S_t$ (forward differences, $e_i$ the unit vector),

  .. math::
    \hat g = \sum_{i \in S_t} \frac{L(\theta + \mu e_i) - L(\theta)}{\mu}\, e_i ,

  with $|S_t| + 1$ forward passes, run one after another (`lax.map`). `density` 1: all
  coordinates (CGE, deterministic). Below 1: a fresh random subset per step with that
  fraction of each leaf (DeepZero's sparsity-induced training, where the per-layer
  densities come from its ZO-GraSP pruning; pass them as a pytree of floats or a function
  params -> pytree of floats).

  Args:
    mu: $\mu$, the finite-difference step.
    density: fraction of each leaf's coordinates estimated per step, in (0, 1].

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Chen et al., DeepZero: Scaling up Zeroth-Order Optimization for Deep Model Training,
    ICLR 2024, https://arxiv.org/abs/2310.02025
  """
  if not mu > 0:
    raise ValueError(f"mu must be > 0, got {mu}.")
  if not callable(density) and np.isscalar(density) and not 0.0 < density <= 1.0:
    raise ValueError(f"density must be in (0, 1], got {density}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_cge", value_fn, key)
    flat, unravel = ravel_pytree(params)
    idx = coordinates(key, params, density)
    f0 = value_fn(params)
    fi = jax.lax.map(lambda i: value_fn(unravel(flat.at[i].add(mu))), idx)
    g = jnp.zeros(flat.shape, jnp.float32).at[idx].set((fi - f0) / mu)
    out = jax.tree.map(lambda u, p: u.astype(p.dtype), unravel(g.astype(flat.dtype)), params)
    return out, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def deepzero(
  learning_rate: optax.ScalarOrSchedule,
  *,
  mu: float = 5e-3,
  density: float | Any | Callable[[Any], Any] = 1.0,
  momentum: float = 0.9,
  weight_decay: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """DeepZero: SGD with heavy-ball momentum on the CGE estimate of `scale_by_cge`.

  Example:
    >>> opt = deepzero(learning_rate=0.1, density=0.1)
  """
  if not 0.0 <= momentum < 1.0:
    raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
  return optax.chain(
    scale_by_cge(mu=mu, density=density),
    optax.add_decayed_weights(weight_decay),
    optax.trace(decay=momentum),
    optax.scale_by_learning_rate(learning_rate),
  )

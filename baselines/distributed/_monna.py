"""MoNNA: local Polyak momentum and nearest-neighbour averaging, Byzantine-robust (T6-13)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.distributed import communication as dist


class NearestNeighborAverageState(NamedTuple):
  count: jnp.ndarray
  bits: jnp.ndarray


def nearest_neighbor_average(
  num_byzantine: int = 0, num_workers: int | None = None
) -> optax.GradientTransformation:
  r"""NNA mixing: each worker averages the n - f half-step models closest to its own.

  With half-step models $y_j = x_j + u_j$ (all exchanged), worker i keeps the $n-f$ indices
  $j$ of smallest $\lVert y_j - y_i\rVert_2$ (itself included; ties by lower index) and sets
  $x_i^+ = \frac{1}{n-f}\sum_{j \in N_i} y_j$; the returned update is $x_i^+ - x_i$.

  Args:
    num_byzantine: f, the number of faulty workers tolerated (n - f >= 1).
    num_workers: length of the leading worker axis of parameters and updates; None: one worker.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`.
  """
  dist.check_num_workers(num_workers)
  n = dist.size(num_workers)
  if isinstance(num_byzantine, bool) or not isinstance(num_byzantine, int) or num_byzantine < 0:
    raise ValueError(f"num_byzantine must be an int >= 0, got {num_byzantine!r}.")
  if n - num_byzantine < 1:
    raise ValueError(f"num_byzantine={num_byzantine} must be < the number of workers {n}.")
  keep = n - num_byzantine

  def init_fn(params):
    del params
    return NearestNeighborAverageState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.float32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("monna needs `params` in update.")
    one = jax.tree.map(lambda p: p[0] if num_workers else p, params)
    new_state = NearestNeighborAverageState(
      optax.safe_increment(state.count), jnp.asarray(dist.full_bits(one), jnp.float32)
    )
    if num_workers is None or n == 1:
      return updates, new_state
    x = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    y = jax.tree.map(lambda a, u: a + u.astype(jnp.float32), x, updates)
    flat = jnp.concatenate([v.reshape(n, -1) for v in jax.tree.leaves(y)], axis=1)
    sq = jnp.sum((flat[:, None, :] - flat[None, :, :]) ** 2, axis=-1)
    _, idx = jax.lax.top_k(-sq, keep)  # (n, keep), lower index first among ties
    select = jnp.zeros((n, n), jnp.float32).at[jnp.arange(n)[:, None], idx].set(1.0 / keep)
    new = dist.mix(select, y)
    return jax.tree.map(lambda a, b, u: (a - b).astype(u.dtype), new, x, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def monna(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  num_byzantine: int = 0,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""MoNNA: $m_i \leftarrow \beta m_i + (1-\beta) g_i$, $y_i = x_i - \gamma m_i$, then NNA.

  References:
    Farhadkhani et al., Robust Collaborative Learning with Linear Gradient Overhead,
    https://arxiv.org/abs/2209.10931
  """
  return optax.chain(
    optax.ema(momentum, debias=False),
    optax.scale_by_learning_rate(learning_rate),
    nearest_neighbor_average(num_byzantine, num_workers),
  )

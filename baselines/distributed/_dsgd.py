"""Gossip averaging and decentralized SGD (D-SGD, T6-12)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.distributed import communication as dist


class GossipState(NamedTuple):
  count: jnp.ndarray
  bits: jnp.ndarray  # bits one worker sent (its model, broadcast once) in the last step


def gossip(
  topology: str | np.ndarray = "ring",
  overlap: bool = False,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""Turns per-worker local updates into decentralized ones by gossip with a mixing matrix W.

  With local updates $u_i$ (already scaled by the learning rate, added to the parameters)
  and per-worker parameters $x_i$:

  $$x_i^+ = \sum_j W_{ij}(x_j + u_j)\ \ \text{(adapt then combine)},\qquad
    x_i^+ = \sum_j W_{ij} x_j + u_i\ \ \text{(`overlap=True`)},$$

  and the returned update is $x_i^+ - x_i$. With `overlap`, the models $x_j$ are exchanged
  while the local update is computed (communication overlaps computation).

  Args:
    topology: `"ring"`, `"complete"` or an explicit doubly stochastic (n, n) matrix.
    overlap: mix the pre-step models (True) or the post-step models (False).
    num_workers: length of the leading worker axis of parameters and updates; None: a single
      worker (no axis; gossip is then the identity).

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`. Its state's `bits` is 32 per
    coordinate of one worker's model.
  """
  dist.check_num_workers(num_workers)
  n = dist.size(num_workers)
  w = dist.mixing_matrix(topology, n)

  def init_fn(params):
    del params
    return GossipState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.float32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("gossip needs `params` in update.")
    bits = jnp.asarray(dist.full_bits(jax.tree.map(lambda p: p[0] if num_workers else p, params)))
    new_state = GossipState(optax.safe_increment(state.count), bits.astype(jnp.float32))
    if num_workers is None or n == 1:
      return updates, new_state
    x = jax.tree.map(
      lambda p: p.astype(jnp.float32), dist.with_worker_axis(params, num_workers, "parameters")
    )
    u = jax.tree.map(
      lambda v: v.astype(jnp.float32), dist.with_worker_axis(updates, num_workers, "updates")
    )
    if overlap:
      new = jax.tree.map(lambda a, b: a + b, dist.mix(w, x), u)
    else:
      new = dist.mix(w, jax.tree.map(lambda a, b: a + b, x, u))
    out = jax.tree.map(lambda a, b, v: (a - b).astype(v.dtype), new, x, updates)
    return out, new_state

  return optax.GradientTransformation(init_fn, update_fn)


def dsgd(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.0,
  topology: str | np.ndarray = "ring",
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""Decentralized SGD: a local (momentum) SGD step on every worker, then gossip.

  $x_i \leftarrow \sum_j W_{ij}\,(x_j - \gamma\, m_j)$ with $m_j$ worker j's (heavy-ball)
  momentum of its own gradients (plain gradient when `momentum` = 0).

  References:
    Lian et al., Can Decentralized Algorithms Outperform Centralized Algorithms? A Case Study
    for Decentralized Parallel Stochastic Gradient Descent, https://arxiv.org/abs/1705.09056
  """
  return optax.chain(
    optax.sgd(learning_rate, momentum=momentum or None),
    gossip(topology, overlap=False, num_workers=num_workers),
  )

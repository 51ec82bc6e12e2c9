"""Distributed Lion: workers send 1-bit Lion updates, the server votes or averages (T6-02)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.distributed import communication as dist


class ScaleByDistributedLionState(NamedTuple):
  count: jnp.ndarray
  mu: Any  # per-worker momentum m_i, (num_workers or 1, *p.shape), float32
  bits: jnp.ndarray


def scale_by_distributed_lion(
  b1: float = 0.9,
  b2: float = 0.99,
  aggregation: Literal["majority_vote", "average"] = "majority_vote",
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""Distributed Lion's direction.

  Worker i: $\delta_i = \mathrm{sign}(\beta_1 m_i + (1-\beta_1) g_i)$ (1 bit per coordinate),
  $m_i \leftarrow \beta_2 m_i + (1-\beta_2) g_i$. Server:
  $\Delta = \mathrm{sign}(\sum_i \delta_i)$ (majority vote; a tie gives 0) or
  $\Delta = \frac1n\sum_i\delta_i$ (averaging), broadcast to every worker.

  Args:
    b1: $\beta_1$, interpolation of the update.
    b2: $\beta_2$, momentum decay.
    aggregation: `"majority_vote"` or `"average"`.
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformation`; its state's `bits` is what one worker sent last step
    (one bit per coordinate).

  References:
    Liu et al., Communication Efficient Distributed Training with Distributed Lion,
    https://arxiv.org/abs/2404.00438
  """
  dist.check_num_workers(num_workers)
  if aggregation not in ("majority_vote", "average"):
    raise ValueError(f"aggregation must be 'majority_vote' or 'average', got {aggregation!r}.")

  def init_fn(params):
    return ScaleByDistributedLionState(
      jnp.zeros([], jnp.int32),
      dist.worker_zeros(params, num_workers, params_have_axis=False),
      jnp.zeros([], jnp.float32),
    )

  def update_fn(updates, state, params=None):
    del params
    g = dist.with_worker_axis(updates, num_workers)
    g = jax.tree.map(lambda x: x.astype(jnp.float32), g)
    delta = jax.tree.map(lambda m, x: jnp.sign(b1 * m + (1 - b1) * x), state.mu, g)
    mu = jax.tree.map(lambda m, x: b2 * m + (1 - b2) * x, state.mu, g)
    if aggregation == "majority_vote":
      agg = jax.tree.map(lambda s: jnp.sign(jnp.sum(s, 0)), delta)
    else:
      agg = jax.tree.map(lambda s: jnp.mean(s, 0), delta)
    d = jax.tree.map(lambda x, u: x.astype(u.dtype), agg, updates)
    bits = float(sum(int(np.prod(x.shape[1:])) for x in jax.tree.leaves(g)))
    return d, ScaleByDistributedLionState(
      optax.safe_increment(state.count), mu, jnp.asarray(bits, jnp.float32)
    )

  return optax.GradientTransformation(init_fn, update_fn)


def distributed_lion(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.99,
  weight_decay: float = 0.0,
  aggregation: Literal["majority_vote", "average"] = "majority_vote",
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """Distributed Lion: the aggregated sign update, decoupled weight decay, the learning rate."""
  return optax.chain(
    scale_by_distributed_lion(b1, b2, aggregation, num_workers),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

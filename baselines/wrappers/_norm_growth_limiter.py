"""Fira's norm-growth limiter: cap how fast each tensor's update norm may grow per step."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByNormGrowthLimitState(NamedTuple):
  """State of `scale_by_norm_growth_limit`: step count and each tensor's last (limited) norm."""

  count: jax.Array
  prev_norm: optax.Updates


def scale_by_norm_growth_limit(
  gamma: float = 1.01, eps: float = 1e-8
) -> optax.GradientTransformation:
  r"""Limits the growth of each tensor's norm from one step to the next.

  For each tensor $S_t$ of the incoming updates (from step 2 on):

  $$\text{if } \lVert S_t\rVert / \lVert S_{t-1}\rVert > \gamma: \quad
    S_t \leftarrow \frac{S_t}{\lVert S_t\rVert}\,\gamma \lVert S_{t-1}\rVert,$$

  where $\lVert S_{t-1}\rVert$ is the norm after limiting (written
  $S_t / (\max(\lVert S_t\rVert / (\lVert S_{t-1}\rVert + \epsilon), \gamma)/\gamma)$).
  Chain it before or after any optimizer.

  Args:
    gamma: $\gamma > 1$, the largest allowed norm ratio between consecutive steps.
    eps: $\epsilon$, guards a zero previous norm.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Chen et al., Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank Constraint?,
    https://arxiv.org/abs/2410.01623
  """
  if gamma <= 1.0:
    raise ValueError(f"gamma must be > 1, got {gamma}.")

  def init_fn(params):
    return ScaleByNormGrowthLimitState(
      jnp.zeros([], jnp.int32), jax.tree.map(lambda p: jnp.zeros([], jnp.float32), params)
    )

  def update_fn(updates, state, params=None):
    del params
    first = state.count == 0

    def limit(u, prev):
      norm = jnp.linalg.norm(u.astype(jnp.float32))
      limiter = jnp.where(first, 1.0, jnp.maximum(norm / (prev + eps), gamma) / gamma)
      return (u.astype(jnp.float32) / limiter).astype(u.dtype), norm / limiter

    pairs = jax.tree.map(limit, updates, state.prev_norm)
    new_updates = jax.tree.map(lambda _, pr: pr[0], updates, pairs)
    norms = jax.tree.map(lambda _, pr: pr[1], updates, pairs)
    return new_updates, ScaleByNormGrowthLimitState(optax.safe_increment(state.count), norms)

  return optax.GradientTransformation(init_fn, update_fn)


def norm_growth_limited_adamw(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  gamma: float = 1.01,
) -> optax.GradientTransformation:
  """AdamW whose direction passes the norm-growth limiter (gamma = 1.01 as in Fira)."""
  return optax.chain(
    optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
    scale_by_norm_growth_limit(gamma),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""LaProp: normalize the gradient first, then average (Ziyin, Wang & Ueda, 2020)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByLaPropState(NamedTuple):
  """State of `scale_by_laprop`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # momentum of the normalized gradients
  nu: optax.Updates  # second moment of the gradients


def scale_by_laprop(
  *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-15
) -> optax.GradientTransformation:
  r"""The direction of LaProp.

  .. math::
    v_t = β_2 v_{t-1} + (1-β_2) g_t^2, \quad
    m_t = β_1 m_{t-1} + (1-β_1) \frac{g_t}{\sqrt{v_t/(1-β_2^t)} + ε}, \quad
    u_t = \frac{m_t}{1-β_1^t}.

  Unlike Adam, the momentum averages already-normalized gradients, so `β_1` and `β_2` are
  decoupled (any `β_1 < 1`, `β_2 < 1` pair is stable).

  Args:
    b1: `β_1` (momentum), in [0, 1).
    b2: `β_2` (second moment), in [0, 1).
    eps: added to the root of the second moment.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Ziyin, Wang & Ueda, LaProp: Separating Momentum and Adaptivity in Adam,
    https://arxiv.org/abs/2002.04839
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByLaPropState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    c2 = _one_minus_pow(b2, t)
    mu = jax.tree.map(
      lambda m, v, g: (b1 * m + (1.0 - b1) * g / (jnp.sqrt(v / c2) + eps)).astype(m.dtype),
      state.mu,
      nu,
      updates,
    )
    c1 = _one_minus_pow(b1, t)
    direction = jax.tree.map(lambda m, g: (m / c1).astype(g.dtype), mu, updates)
    return direction, ScaleByLaPropState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def laprop(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-15,
) -> optax.GradientTransformation:
  """LaProp; see `scale_by_laprop`.

  Example:
    >>> opt = laprop(learning_rate=4e-4)
  """
  return optax.chain(
    scale_by_laprop(b1=b1, b2=b2, eps=eps), optax.scale_by_learning_rate(learning_rate)
  )

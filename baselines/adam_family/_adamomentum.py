"""AdaMomentum: the second moment from the momentum (Wang et al., 2021)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByAdaMomentumState(NamedTuple):
  """State of `scale_by_adamomentum`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment m_t
  nu: optax.Updates  # EMA of m_t² (plus ε)


def scale_by_adamomentum(
  *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
  r"""The direction of AdaMomentum.

  .. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t, \quad v_t = β_2 v_{t-1} + (1-β_2) m_t^2 + ε, \quad
    u_t = \frac{m_t/(1-β_1^t)}{\sqrt{v_t/(1-β_2^t)} + ε}.

  Adam with the squared *momentum* in place of the squared gradient ("twofold EMA").

  Args:
    b1: `β_1`, in [0, 1).
    b2: `β_2`, in [0, 1).
    eps: added inside the second moment and to its root.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Wang, Xiong, Li & Zhu, Rethinking Adam: A Twofold Exponential Moving Average Approach,
    https://arxiv.org/abs/2106.11514
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByAdaMomentumState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    mu = optax.tree.update_moment(updates, state.mu, b1, 1)
    nu = jax.tree.map(
      lambda v, m: (b2 * v + (1.0 - b2) * jnp.square(m) + eps).astype(v.dtype), state.nu, mu
    )
    c1, c2 = _one_minus_pow(b1, t), _one_minus_pow(b2, t)
    direction = jax.tree.map(
      lambda m, v, g: ((m / c1) / (jnp.sqrt(v / c2) + eps)).astype(g.dtype), mu, nu, updates
    )
    return direction, ScaleByAdaMomentumState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def adamomentum(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  """AdaMomentum; see `scale_by_adamomentum`.

  Example:
    >>> opt = adamomentum(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_adamomentum(b1=b1, b2=b2, eps=eps), optax.scale_by_learning_rate(learning_rate)
  )

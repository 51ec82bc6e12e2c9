"""EXAdam: Adam with cross-moment debiasing and a gradient accelerator (Adly, 2024)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByEXAdamState(NamedTuple):
  """State of `scale_by_exadam`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment
  nu: optax.Updates  # second moment


def scale_by_exadam(
  *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, step_growth: bool = True
) -> optax.GradientTransformation:
  r"""The direction of EXAdam.

  With Adam's moments `m_t`, `v_t`:

  .. math::
    d_1 = 1 + \frac{v_t}{v_t + ε} β_2^t, \quad d_2 = 1 + \frac{m_t^2}{m_t^2 + ε} β_1^t,

    \tilde m_t = \frac{m_t}{1-β_1^t} d_1, \quad \tilde v_t = \frac{v_t}{1-β_2^t} d_2, \quad
    \tilde g_t = \frac{g_t}{1-β_1^t} d_1,

    u_t = \ln(\sqrt{2}\sqrt{t+1})\, \frac{\tilde m_t + \tilde g_t}{\sqrt{\tilde v_t} + ε}.

  The cross-moment factors `d_1`, `d_2` replace Adam's bias correction, `g̃_t` is the
  gradient accelerator, and the `ln(√(2(t+1)))` factor is the step size that keeps growing
  with `t` (`step_growth=False` drops it, as the authors' released code does).

  Args:
    b1: `β_1`, in [0, 1).
    b2: `β_2`, in [0, 1).
    eps: in the cross-moment factors and added to `√ṽ_t`.
    step_growth: apply the growing step size `ln(√2 √(t+1))`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Adly, EXAdam: The Power of Adaptive Cross-Moments, https://arxiv.org/abs/2412.20302
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByEXAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    mu = optax.tree.update_moment(updates, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    b1_t, b2_t = b1**t, b2**t
    c1, c2 = _one_minus_pow(b1, t), _one_minus_pow(b2, t)
    scale = jnp.log(jnp.sqrt(2.0 * (t + 1.0))) if step_growth else jnp.ones([], jnp.float32)

    def direction(m, v, g):
      m, v, g32 = m.astype(jnp.float32), v.astype(jnp.float32), g.astype(jnp.float32)
      d1 = 1.0 + v / (v + eps) * b2_t
      d2 = 1.0 + jnp.square(m) / (jnp.square(m) + eps) * b1_t
      m_tilde = m / c1 * d1
      v_tilde = v / c2 * d2
      g_tilde = g32 / c1 * d1
      return (scale * (m_tilde + g_tilde) / (jnp.sqrt(v_tilde) + eps)).astype(g.dtype)

    return jax.tree.map(direction, mu, nu, updates), ScaleByEXAdamState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def exadam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  step_growth: bool = True,
) -> optax.GradientTransformation:
  """EXAdam with decoupled weight decay `p <- p - lr (u + λ p)`; see `scale_by_exadam`.

  Example:
    >>> opt = exadam(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_exadam(b1=b1, b2=b2, eps=eps, step_growth=step_growth),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

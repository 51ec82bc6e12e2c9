"""AdaMod: Adam with momental bounds on the per-coordinate step size (Ding et al., 2019)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByAdaModState(NamedTuple):
  """State of `scale_by_adamod`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment
  nu: optax.Updates  # second moment
  step_ema: optax.Updates  # s_t, EMA of the per-coordinate step sizes (in units of α)


def scale_by_adamod(
  *, b1: float = 0.9, b2: float = 0.999, b3: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
  r"""The direction of AdaMod, in units of the learning rate `α`.

  .. math::
    \hat m_t = \frac{m_t}{1-β_1^t}, \quad \hat v_t = \frac{v_t}{1-β_2^t}, \quad
    η_t = \frac{1}{\sqrt{\hat v_t} + ε}, \quad
    s_t = β_3 s_{t-1} + (1-β_3) η_t, \quad u_t = \min(η_t, s_t)\, \hat m_t,

  with `m_t`, `v_t` Adam's moments and `s_0 = 0`. The paper writes `η_t = α/(√v̂_t + ε)`;
  keeping `s_t` in units of `α` is the same method for a constant learning rate.
  This is the paper's Algorithm 1; the authors' code averages `η_t/(1-β_1^t)` instead (the
  bound is looser over the first ~1/(1-β_3) steps) and adds `ε` to the uncorrected root.

  Args:
    b1: `β_1`, in [0, 1).
    b2: `β_2`, in [0, 1).
    b3: `β_3`, the memory of the step-size bound, in [0, 1).
    eps: added to `√v̂_t`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Ding, Ren, Luo & Sun, An Adaptive and Momental Bound Method for Stochastic Learning,
    https://arxiv.org/abs/1910.12249
  """
  for name, value in (("b1", b1), ("b2", b2), ("b3", b3)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByAdaModState(
      count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros(), step_ema=zeros()
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    mu = optax.tree.update_moment(updates, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    t = count.astype(jnp.float32)
    c1, c2 = _one_minus_pow(b1, t), _one_minus_pow(b2, t)
    mu_hat = jax.tree.map(lambda m: m / c1, mu)
    nu_hat = jax.tree.map(lambda v: v / c2, nu)
    eta = jax.tree.map(lambda v: 1.0 / (jnp.sqrt(v) + eps), nu_hat)
    step_ema = jax.tree.map(
      lambda s, e: (b3 * s + (1.0 - b3) * e).astype(s.dtype), state.step_ema, eta
    )
    direction = jax.tree.map(
      lambda e, s, m, g: (jnp.minimum(e, s) * m).astype(g.dtype), eta, step_ema, mu_hat, updates
    )
    return direction, ScaleByAdaModState(count=count, mu=mu, nu=nu, step_ema=step_ema)

  return optax.GradientTransformation(init_fn, update_fn)


def adamod(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  b3: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  """AdaMod; see `scale_by_adamod`.

  Example:
    >>> opt = adamod(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_adamod(b1=b1, b2=b2, b3=b3, eps=eps), optax.scale_by_learning_rate(learning_rate)
  )

"""FAdam: Adam as natural gradient with the diagonal empirical Fisher (Hwang, 2024)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByFAdamState(NamedTuple):
  """State of `scale_by_fadam`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # momentum of the clipped natural gradient
  fim: optax.Updates  # diagonal empirical Fisher (bias-corrected EMA of g²)


def _clip_by_rms(x, clip):
  rms = jnp.sqrt(jnp.mean(jnp.square(x)))
  return x / jnp.maximum(1.0, rms / clip)


def scale_by_fadam(
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  clip: float = 1.0,
  p: float = 0.5,
  weight_decay: float = 0.1,
) -> optax.GradientTransformation:
  r"""The direction of FAdam (Algorithm 1 of the paper).

  .. math::
    ρ_t = β_2 \frac{1-β_2^{t-1}}{1-β_2^t}, \quad F_t = ρ_t F_{t-1} + (1-ρ_t) g_t^2,

    \bar g_t = \frac{g_t}{F_t^p + ε}, \quad
    \bar g_t \leftarrow \frac{\bar g_t}{\max(1, \mathrm{RMS}(\bar g_t)/c)}, \quad
    m_t = β_1 m_{t-1} + (1-β_1) \bar g_t,

    \bar g_w = \frac{θ_{t-1}}{F_t^p + ε}, \quad
    \bar g_w \leftarrow \frac{\bar g_w}{\max(1, \mathrm{RMS}(\bar g_w)/c)}, \quad
    u_t = m_t + λ \bar g_w.

  `ρ_t` makes `F_t` exactly the bias-corrected EMA of `g²`; the momentum averages the
  clipped natural gradient and takes no bias correction; the weight decay is preconditioned
  by the Fisher too. The RMS is taken per tensor.

  Args:
    b1: `β_1`, in [0, 1).
    b2: `β_2`, in [0, 1).
    eps: added to `F_t^p`.
    clip: `c > 0`, the largest RMS of the natural gradient (and of the decay term).
    p: Fisher exponent `p > 0` (1/2 is Adam's square root).
    weight_decay: `λ >= 0`; needs `params` when positive.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Hwang, FAdam: Adam is a natural gradient optimizer using diagonal empirical Fisher
    information, https://arxiv.org/abs/2405.12807
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  if not clip > 0:
    raise ValueError(f"clip must be > 0, got {clip}.")
  if not p > 0:
    raise ValueError(f"p must be > 0, got {p}.")
  if not weight_decay >= 0:
    raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByFAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(), fim=zeros())

  def update_fn(updates, state, params=None):
    if weight_decay > 0 and params is None:
      raise ValueError("FAdam with weight_decay > 0 needs `params` in update.")
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    rho = b2 * _one_minus_pow(b2, t - 1.0) / _one_minus_pow(b2, t)
    fim = jax.tree.map(
      lambda f, g: (rho * f + (1.0 - rho) * jnp.square(g)).astype(f.dtype), state.fim, updates
    )
    denom = jax.tree.map(lambda f: jnp.power(f.astype(jnp.float32), p) + eps, fim)
    nat = jax.tree.map(lambda g, d: _clip_by_rms(g / d, clip), updates, denom)
    mu = jax.tree.map(lambda m, n: (b1 * m + (1.0 - b1) * n).astype(m.dtype), state.mu, nat)
    if weight_decay > 0:
      direction = jax.tree.map(
        lambda m, w, d, g: (m + weight_decay * _clip_by_rms(w / d, clip)).astype(g.dtype),
        mu,
        params,
        denom,
        updates,
      )
    else:
      direction = jax.tree.map(lambda m, g: m.astype(g.dtype), mu, updates)
    return direction, ScaleByFAdamState(count=count, mu=mu, fim=fim)

  return optax.GradientTransformation(init_fn, update_fn)


def fadam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  clip: float = 1.0,
  p: float = 0.5,
  weight_decay: float = 0.1,
) -> optax.GradientTransformation:
  """FAdam; see `scale_by_fadam`.

  Example:
    >>> opt = fadam(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_fadam(b1=b1, b2=b2, eps=eps, clip=clip, p=p, weight_decay=weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""Adafactor's factored second moment as features (Shazeer & Stern, arXiv:1804.04235).

A tensor is seen as a matrix `(prod(shape[:-1]), shape[-1])`; its second moment is kept as
row and column EMAs at 0.999 of the squared gradient (plus 1e-30),

    r <- b r + (1 - b) mean_cols(g^2),   c <- b c + (1 - b) mean_rows(g^2),
    v̂ = r c^T / mean(r) / (1 - b^t),

which costs `rows + cols` floats instead of `rows * cols`. Vectors and scalars keep the full
EMA. Features: `adafactor_row` = sqrt(r) and `adafactor_col` = sqrt(c), broadcast over the
tensor; `adafactor` = g / sqrt(v̂); `adafactor_momentum_b` = m_b / sqrt(v̂), computed as
rsqrt(r_i) rsqrt(c_j) sqrt(mean(r) (1 - b^t)) so that rows and columns of zero gradients
stay finite (r_i c_j would underflow). These are the
inputs of the AdafacMLP of Metz et al., Practical tradeoffs between memory, compute, and
performance in learned optimizers, arXiv:2203.11860.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from baselines.matrix import matrix_shape
from learned_opt.features.base import Feature, Inputs, Stat, bias_correction, ema
from learned_opt.features.moments import momentum

DECAY = 0.999
EPS = 1e-30


def _init(p):
  shape = matrix_shape(p.shape)
  if shape is None:
    return (jnp.zeros_like(p),)
  return jnp.zeros(shape[0], p.dtype), jnp.zeros(shape[1], p.dtype)


def _update(state, g, p, count, glob):
  shape = matrix_shape(g.shape)
  g2 = jnp.square(g) + EPS
  if shape is None:
    return (ema(state[0], g2, DECAY),)
  g2 = g2.reshape(shape)
  return ema(state[0], jnp.mean(g2, axis=1), DECAY), ema(state[1], jnp.mean(g2, axis=0), DECAY)


FACTORED = Stat(f"factored_second_moment_{DECAY}", init=_init, update=_update)


def _broadcast(x: Inputs, axis: int) -> jax.Array:
  state = x.new[FACTORED.name]
  if len(state) == 1:
    return jnp.sqrt(state[0])
  shape = matrix_shape(x.g.shape)
  vec = jnp.sqrt(state[axis])
  return jnp.broadcast_to(vec[:, None] if axis == 0 else vec[None, :], shape).reshape(x.g.shape)


def _rsqrt(x: jax.Array, factor: jax.Array) -> jax.Array:
  """rsqrt(x) of a second-moment `factor`'s expression, with derivative 0 where the factor
  holds no more than EPS's share (all-zero or underflowing gradients): there rsqrt's
  derivative (~x^-1.5 >= 1e45) overflows float32 while the factor's own is 0, and inf * 0 =
  NaN would reach every derivative through the feature. rsqrt(x)'s values everywhere."""
  floor = factor <= EPS
  held = jax.lax.rsqrt(jax.lax.stop_gradient(x))
  return jnp.where(floor, held, jax.lax.rsqrt(jnp.where(floor, 1.0, x)))


def inverse_sqrt_v_hat(x: Inputs) -> jax.Array:
  """1 / sqrt(v̂), the factored estimate of the bias-corrected second moment."""
  state = x.new[FACTORED.name]
  correction = bias_correction(DECAY, x.count)
  if len(state) == 1:
    return _rsqrt(state[0] / correction, state[0])
  r, c = state
  # rsqrt(r c^T / mean(r) / correction), factor by factor: the product r_i c_j of two
  # all-zero rows' and columns' factors (each ~1e-33, from EPS) underflows to 0 in float32,
  # and rsqrt(0) * 0 is NaN; each factor's rsqrt stays finite.
  scale = jnp.sqrt(jnp.mean(r) * correction)
  return (_rsqrt(r, r)[:, None] * (_rsqrt(c, c) * scale)[None, :]).reshape(x.g.shape)


def _momentum_feature(decay: float) -> Feature:
  m = momentum(decay)
  return Feature(
    f"adafactor_momentum_{decay}",
    lambda x: x.new[m.name] * inverse_sqrt_v_hat(x),
    (m, FACTORED),
    doc=f"momentum_{decay} over Adafactor's factored RMS",
  )


FEATURES = (
  Feature("adafactor_row", lambda x: _broadcast(x, 0), (FACTORED,), doc="sqrt of the row factor"),
  Feature("adafactor_col", lambda x: _broadcast(x, 1), (FACTORED,), doc="sqrt of the col factor"),
  Feature(
    "adafactor", lambda x: x.g * inverse_sqrt_v_hat(x), (FACTORED,), doc="Adafactor's direction"
  ),
  *(_momentum_feature(b) for b in (0.5, 0.9, 0.99)),
)

"""OASIS: a truncated Hutchinson diagonal preconditioner with an adaptive step size."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import hessian


class ScaleByOasisState(NamedTuple):
  """State of `scale_by_oasis`."""

  count: jax.Array  # int32 step count
  diag: optax.Updates  # float32 EMA D_t of Hutchinson samples
  prev_params: optax.Params  # float32 w_{k-1}
  prev_grad: optax.Updates  # float32 ∇F(w_{k-1})
  eta: jax.Array  # float32 η_{k-1}
  theta: jax.Array  # float32 θ_{k-1} = η_{k-1} / η_{k-2} (+inf at the start)


def _tree_dot(a, b) -> jax.Array:
  return sum(
    (jnp.sum(x * y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)),
    start=jnp.zeros((), jnp.float32),
  )


def scale_by_oasis(
  learning_rate: float = 0.1,
  b2: float = 0.99,
  alpha: float = 1e-5,
  adaptive_lr: bool = True,
) -> optax.GradientTransformationExtraArgs:
  r"""The OASIS step η_k D̂_k^{-1} ∇F(w_k) (positive sign; negate to descend).

  .. math::
    D_0 = z ⊙ ∇²F(w_0) z,\qquad D_k = β_2 D_{k-1} + (1-β_2)\, z_k ⊙ ∇²F(w_k) z_k,
    \qquad D̂_k = \max(|D_k|, α),

    η_k = \min\Big\{\sqrt{1+θ_{k-1}}\,η_{k-1},\ \frac{\lVert w_k - w_{k-1}\rVert_{D̂_k}}
    {2\,\lVert ∇F(w_k) - ∇F(w_{k-1})\rVert^*_{D̂_k}}\Big\},\qquad θ_k = η_k / η_{k-1},

  with ‖x‖_D = √(xᵀDx), ‖x‖*_D = √(xᵀD^{-1}x), z Rademacher from the `key` extra arg and
  η_0 = `learning_rate`, θ_0 = +∞ (Algorithm 1 of the paper). With `adaptive_lr=False`
  the step size stays η_k = `learning_rate` (the paper's fixed-step variant).

  Args:
    learning_rate: η_0 (adaptive) or the fixed step size.
    b2: β_2, decay of the Hessian-diagonal EMA.
    alpha: truncation α > 0 of |D_k|.
    adaptive_lr: use the adaptive step size above.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra args
    `value_fn` and `key`.

  References:
    Jahani, Rusakov, Shi, Richtárik, Mahoney & Takáč, Doubly Adaptive Scaled Algorithm for
    Machine Learning Using Second-Order Information, https://arxiv.org/abs/2109.05198
  """
  if learning_rate <= 0:
    raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
  if not 0 <= b2 < 1:
    raise ValueError(f"b2 must be in [0, 1), got {b2}.")
  if alpha <= 0:
    raise ValueError(f"alpha must be > 0, got {alpha}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByOasisState(
      count=jnp.zeros((), jnp.int32),
      diag=jax.tree.map(zeros, params),
      prev_params=jax.tree.map(zeros, params),
      prev_grad=jax.tree.map(zeros, params),
      eta=jnp.asarray(learning_rate, jnp.float32),
      theta=jnp.asarray(jnp.inf, jnp.float32),
    )

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("oasis needs `params` and the extra args `value_fn` and `key`.")
    first = state.count == 0
    sample = hessian.hutchinson_diag(value_fn, params, key)
    diag = jax.tree.map(lambda d, s: jnp.where(first, s, b2 * d + (1 - b2) * s), state.diag, sample)
    dhat = jax.tree.map(lambda d: jnp.maximum(jnp.abs(d), alpha), diag)
    w = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    g = jax.tree.map(lambda u: u.astype(jnp.float32), updates)
    if adaptive_lr:
      dw = jax.tree.map(jnp.subtract, w, state.prev_params)
      dg = jax.tree.map(jnp.subtract, g, state.prev_grad)
      num = jnp.sqrt(_tree_dot(dw, jax.tree.map(jnp.multiply, dhat, dw)))
      den = 2.0 * jnp.sqrt(_tree_dot(dg, jax.tree.map(jnp.divide, dg, dhat)))
      ratio = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), jnp.inf)
      grow = jnp.sqrt(1.0 + state.theta) * state.eta
      candidate = jnp.minimum(grow, ratio)
      eta = jnp.where(first, state.eta, jnp.where(jnp.isfinite(candidate), candidate, state.eta))
      theta = jnp.where(first, state.theta, eta / state.eta)
    else:
      eta, theta = state.eta, state.theta
    out = jax.tree.map(lambda gi, d, u: (eta * gi / d).astype(u.dtype), g, dhat, updates)
    new_state = ScaleByOasisState(
      count=optax.safe_increment(state.count),
      diag=diag,
      prev_params=w,
      prev_grad=g,
      eta=eta,
      theta=theta,
    )
    return out, new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def oasis(
  learning_rate: float = 0.1,
  b2: float = 0.99,
  alpha: float = 1e-5,
  adaptive_lr: bool = True,
) -> optax.GradientTransformationExtraArgs:
  """OASIS: w_{k+1} = w_k − η_k D̂_k^{-1} ∇F(w_k) (see `scale_by_oasis`).

  Args:
    learning_rate: η_0 of the adaptive rule, or the fixed step size.
    b2, alpha, adaptive_lr: see `scale_by_oasis`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Jahani et al., Doubly Adaptive Scaled Algorithm for Machine Learning Using Second-Order
    Information, https://arxiv.org/abs/2109.05198
  """
  return optax.chain(
    scale_by_oasis(learning_rate=learning_rate, b2=b2, alpha=alpha, adaptive_lr=adaptive_lr),
    optax.scale(-1.0),
  )

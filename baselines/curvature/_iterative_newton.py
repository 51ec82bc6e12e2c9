"""Iterative Newton: Newton's step with the inverse Hessian from Newton-Schulz iterations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from baselines.curvature import hessian


def scale_by_iterative_newton(
  newton_iters: int = 3, lanczos_iters: int = 10, alpha_scale: float = 1.0
) -> optax.GradientTransformationExtraArgs:
  r"""M_k g, the Newton direction with k Newton-Schulz iterations (positive sign).

  Iterative Newton for the inverse of S = ∇²f(θ_t):

  .. math::
    M_0 = α S,\qquad M_{j+1} = 2 M_j - M_j S M_j,\qquad α = c / λ_{\max}(S)^2,

  so that I - M_k S = (I - α S²)^{2^k}, i.e. M_k = α S Σ_{i<2^k} (I - α S²)^i, which is
  applied to g with 2^{k+1} - 1 Hessian-vector products (`value_fn`) and no matrix.
  λ_max is the largest Ritz value of `lanczos_iters` Lanczos steps from a Rademacher start
  (`key`); c = `alpha_scale` ∈ (0, 2) (the iteration needs α λ_max² < 2). On a linear
  regression ½‖Xw − y‖² from w = 0, one step w = -M_k ∇f(0) = M_k Xᵀy is the paper's k-th
  Iterative Newton iterate, the algorithm transformers are shown to emulate in context.

  Args:
    newton_iters: k ≥ 0 (M_k is a polynomial of degree 2^{k+1} − 1 in S).
    lanczos_iters: Lanczos steps for λ_max.
    alpha_scale: c in α = c / λ_max².

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Fu, Chen, Jia & Sharan, Transformers Learn Higher-Order Optimization Methods for
    In-Context Learning: A Study with Linear Models, https://arxiv.org/abs/2310.17086;
    Schulz, Iterative Berechnung der reziproken Matrix (1933).
  """
  if newton_iters < 0:
    raise ValueError(f"newton_iters must be an integer >= 0, got {newton_iters}.")
  if lanczos_iters < 1:
    raise ValueError(f"lanczos_iters must be an integer >= 1, got {lanczos_iters}.")
  if not 0 < alpha_scale < 2:
    raise ValueError(f"alpha_scale must be in (0, 2), got {alpha_scale}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("iterative_newton needs `params` and the extra args `value_fn`, `key`.")
    g, unravel = ravel_pytree(updates)
    g = g.astype(jnp.float32)
    matvec, flat = hessian.flat_hvp(value_fn, params)
    v0 = jax.random.rademacher(key, flat.shape, jnp.float32)
    ritz, _ = hessian.lanczos_eigh(matvec, v0, lanczos_iters)
    lam = jnp.max(jnp.abs(ritz))
    alpha = alpha_scale / jnp.where(lam > 0, lam, 1.0) ** 2
    residual = lambda v: v - alpha * matvec(matvec(v))  # (I - α S²) v
    # Σ_{i<2^k} R^i g = Π_{j<k} (I + R^{2^j}) g
    v = g
    for j in range(newton_iters):
      v = v + jax.lax.fori_loop(0, 2**j, lambda _, w: residual(w), v)
    out = unravel(alpha * matvec(v))
    return jax.tree.map(lambda o, u: o.astype(u.dtype), out, updates), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def iterative_newton(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  newton_iters: int = 3,
  lanczos_iters: int = 10,
  alpha_scale: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
  """Iterative Newton: θ ← θ − η M_k ∇f(θ) (see `scale_by_iterative_newton`).

  Args:
    learning_rate: η (1: Newton's step).
    newton_iters, lanczos_iters, alpha_scale: see `scale_by_iterative_newton`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Fu, Chen, Jia & Sharan, Transformers Learn Higher-Order Optimization Methods for
    In-Context Learning: A Study with Linear Models, https://arxiv.org/abs/2310.17086
  """
  return optax.chain(
    scale_by_iterative_newton(
      newton_iters=newton_iters, lanczos_iters=lanczos_iters, alpha_scale=alpha_scale
    ),
    optax.scale_by_learning_rate(learning_rate),
  )

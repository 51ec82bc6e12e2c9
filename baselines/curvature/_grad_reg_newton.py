"""Gradient-regularized Newton: (H + √(L‖g‖) I)^{-1} g by truncated CG on Hessian-vector
products."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from baselines.curvature import hessian


def scale_by_grad_reg_newton(
  regularization: float = 1.0, cg_iters: int = 10
) -> optax.GradientTransformationExtraArgs:
  r"""The gradient-regularized Newton direction (positive sign; negate to descend).

  .. math::
    u_t = \big(H_t + \sqrt{L \lVert g_t \rVert}\, I\big)^{-1} g_t,

  with H_t = ∇²f(θ_t) applied through Hessian-vector products of `value_fn` and the system
  solved by `cg_iters` steps of truncated conjugate gradients (`baselines.curvature.hessian`; it
  stops at a direction of non-positive curvature, so an indefinite H on a non-convex loss
  still gives a descent direction). ‖g‖ is the global Euclidean norm of the gradient. The
  paper analyses this step with approximate Hessians H̃ (Fisher, Gauss-Newton, quasi-
  Newton); the exact Hessian through HVPs is the approximation the extra args provide.

  Args:
    regularization: L > 0, the constant of the gradient regularization √(L‖g‖).
    cg_iters: number of CG steps (HVPs) per update.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and `value_fn`.

  References:
    Semenov, Jaggi & Doikov, Gradient-Normalized Smoothness for Optimization with
    Approximate Hessians, https://arxiv.org/abs/2506.13710; Mishchenko, Regularized Newton
    Method with Global O(1/k²) Convergence, https://arxiv.org/abs/2112.02089
  """
  if regularization <= 0:
    raise ValueError(f"regularization must be > 0, got {regularization}.")
  if cg_iters < 1:
    raise ValueError(f"cg_iters must be an integer >= 1, got {cg_iters}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
    del extra_args
    if params is None or value_fn is None:
      raise ValueError("grad_reg_newton needs `params` and the extra arg `value_fn`.")
    g, unravel = ravel_pytree(updates)
    g = g.astype(jnp.float32)
    matvec, _ = hessian.flat_hvp(value_fn, params)
    damping = jnp.sqrt(regularization * jnp.linalg.norm(g))
    x = hessian.conjugate_gradient(matvec, g, cg_iters, damping=damping)
    out = unravel(x)
    return jax.tree.map(lambda o, u: o.astype(u.dtype), out, updates), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def grad_reg_newton(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  regularization: float = 1.0,
  cg_iters: int = 10,
) -> optax.GradientTransformationExtraArgs:
  """Gradient-regularized Newton: θ ← θ − η (H + √(L‖g‖) I)^{-1} g (η = 1 in the paper).

  Args:
    learning_rate: η.
    regularization, cg_iters: see `scale_by_grad_reg_newton`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and `value_fn`.

  References:
    Semenov, Jaggi & Doikov, Gradient-Normalized Smoothness for Optimization with
    Approximate Hessians, https://arxiv.org/abs/2506.13710
  """
  return optax.chain(
    scale_by_grad_reg_newton(regularization=regularization, cg_iters=cg_iters),
    optax.scale_by_learning_rate(learning_rate),
  )

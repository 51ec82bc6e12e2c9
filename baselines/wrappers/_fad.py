"""FAD: flatness-aware minimization of zeroth- and first-order flatness, around any optimizer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from optax import tree_utils as otu

_TINY = 1e-12  # guards the normalization of a zero vector


def _add_scaled(tree, direction, scale):
  return jax.tree.map(lambda p, d: p + scale * d.astype(p.dtype), tree, direction)


def fad(
  inner: optax.GradientTransformation,
  *,
  rho: float = 0.05,
  alpha: float = 0.5,
  beta: float = 0.1,
) -> optax.GradientTransformationExtraArgs:
  r"""Flatness-Aware minimization for Domain generalization around any optimizer.

  FAD minimizes $L_{\mathrm{FAD}} = L + \alpha R^{(0)}_\rho + \beta R^{(1)}_\rho$ with the
  zeroth-order flatness $R^{(0)}_\rho(\theta) = \max_{\lVert\epsilon\rVert\le\rho}
  L(\theta+\epsilon) - L(\theta)$ (SAM's sharpness) and the first-order flatness
  $R^{(1)}_\rho(\theta) = \rho \max_{\lVert\epsilon\rVert\le\rho}
  \lVert\nabla L(\theta+\epsilon)\rVert$ (GAM). Each max is approximated by one normalized
  ascent step. With $g_0 = \nabla L(\theta)$ and $f(\theta) = \nabla\lVert\nabla
  L(\theta)\rVert = H(\theta)\nabla L(\theta) / \lVert \nabla L(\theta) \rVert$:

  $$\epsilon_0 = \rho\, g_0/\lVert g_0\rVert, \quad g_1 = \nabla L(\theta+\epsilon_0), \quad
    \epsilon_1 = \rho\, f(\theta)/\lVert f(\theta)\rVert, \quad f_1 = f(\theta+\epsilon_1),$$
  $$\tilde g = (1-\alpha)\, g_0 + \alpha\, g_1 + \beta\rho\, f_1,$$

  and `inner` updates $\theta$ with $\tilde g$ (norms are over all parameters). This is
  the paper's gradient of $L_{\mathrm{FAD}}$ (its Algorithm 1) with one change: the
  gradient-norm gradients $f$ are computed exactly by differentiating through
  $\lVert\nabla L\rVert$ (a Hessian-vector product) instead of by a finite difference of
  gradients.

  Args:
    inner: the outer optimizer (updates added to the parameters).
    rho: $\rho > 0$, the perturbation radius.
    alpha: $\alpha \in [0, 1]$, weight of the zeroth-order flatness.
    beta: $\beta \geq 0$, weight of the first-order flatness.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs the extra arg `value_fn`
    (params -> loss on the current batch). The incoming gradient is taken as $g_0$.

  References:
    Zhang et al., Flatness-Aware Minimization for Domain Generalization,
    https://arxiv.org/abs/2307.11108
  """
  if rho <= 0:
    raise ValueError(f"rho must be > 0, got {rho}.")
  if not 0.0 <= alpha <= 1.0:
    raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
  if beta < 0:
    raise ValueError(f"beta must be >= 0, got {beta}.")
  inner = optax.with_extra_args_support(inner)

  def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
    if value_fn is None or params is None:
      raise ValueError("fad needs `params` and the extra arg `value_fn` in update.")
    f32 = lambda t: jax.tree.map(lambda x: x.astype(jnp.float32), t)
    loss32 = lambda p: value_fn(jax.tree.map(lambda x, q: x.astype(q.dtype), p, params))
    grad_fn = jax.grad(loss32)
    grad_norm_grad = jax.grad(lambda p: otu.tree_norm(grad_fn(p)))
    p32, g0 = f32(params), f32(updates)
    g1 = grad_fn(_add_scaled(p32, g0, rho / (otu.tree_norm(g0) + _TINY)))
    f0 = grad_norm_grad(p32)
    f1 = grad_norm_grad(_add_scaled(p32, f0, rho / (otu.tree_norm(f0) + _TINY)))
    g = jax.tree.map(
      lambda a, b, c, u: ((1 - alpha) * a + alpha * b + beta * rho * c).astype(u.dtype),
      g0,
      g1,
      f1,
      updates,
    )
    new_updates, state = inner.update(g, state, params, **extra_args)
    return jax.tree.map(lambda u, p: u.astype(p.dtype), new_updates, params), state

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def fad_sgd(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  rho: float = 0.05,
  alpha: float = 0.5,
  beta: float = 0.1,
) -> optax.GradientTransformationExtraArgs:
  """FAD around SGD with heavy-ball momentum."""
  return fad(optax.sgd(learning_rate, momentum=momentum or None), rho=rho, alpha=alpha, beta=beta)


def fad_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  rho: float = 0.05,
  alpha: float = 0.5,
  beta: float = 0.1,
) -> optax.GradientTransformationExtraArgs:
  """FAD around `optax.adam` (DomainBed's default optimizer)."""
  return fad(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps), rho=rho, alpha=alpha, beta=beta)

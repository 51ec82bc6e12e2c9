"""LAWN: after a free phase, keep the weight norms of the constrained layers fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

_TINY = 1e-12


class LawnState(NamedTuple):
  """State of `lawn`: step count, the frozen norms (0 before the freeze), the inner state."""

  count: jax.Array
  norms: optax.Params
  inner: optax.OptState


def default_lawn_mask(params: optax.Params) -> Any:
  """Constrains every tensor with ndim >= 2 (weight matrices and kernels), not vectors."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def lawn(
  inner: optax.GradientTransformation,
  *,
  free_steps: int = 1000,
  mask: Callable[[optax.Params], Any] = default_lawn_mask,
  project_gradient: bool = True,
) -> optax.GradientTransformationExtraArgs:
  r"""Logit Attenuating Weight Normalization around any optimizer.

  For the first `free_steps` updates `inner` runs unchanged (the free phase). At the first
  constrained step the norm $c_W = \lVert W \rVert$ of every constrained layer $W$ (the
  `mask`) is frozen, and from then on

  $$g_W \leftarrow g_W - \frac{\langle g_W, W\rangle}{\lVert W\rVert^2} W \ (\text{if
    project\_gradient}), \qquad W \leftarrow c_W \frac{W + u_W}{\lVert W + u_W\rVert},$$

  where $u_W$ is `inner`'s update computed from the (projected) gradient: the gradient is
  restricted to the tangent space of the sphere and the step is projected back onto it.
  Unconstrained parameters are updated by `inner` as usual. The paper constrains the layers
  of the network's final homogeneous sub-network; `mask` chooses them (default: every tensor
  with ndim >= 2). Norms are per layer (Frobenius).

  Args:
    inner: the optimizer (updates added to the parameters); extra args are forwarded.
    free_steps: length of the free phase (>= 0).
    mask: params -> pytree of Python bools (True = constrained), or a pytree prefix of it.
    project_gradient: remove the radial component of the gradient in the constrained phase.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`.

  References:
    Gupta et al., Logit Attenuating Weight Normalization, https://arxiv.org/abs/2108.05839
  """
  if free_steps < 0:
    raise ValueError(f"free_steps must be an integer >= 0, got {free_steps}.")
  inner = optax.with_extra_args_support(inner)

  def init_fn(params):
    norms = jax.tree.map(lambda _: jnp.zeros([], jnp.float32), params)
    return LawnState(jnp.zeros([], jnp.int32), norms, inner.init(params))

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("lawn needs `params` in update.")
    on = state.count >= free_steps
    flags = jax.tree.map(lambda m, sub: jax.tree.map(lambda _: bool(m), sub), mask(params), params)
    sqnorm = lambda x: jnp.sum(x.astype(jnp.float32) ** 2)

    def freeze(c, p, m):
      if not m:
        return c
      return jnp.where(state.count == free_steps, jnp.sqrt(sqnorm(p)), c)

    norms = jax.tree.map(freeze, state.norms, params, flags)

    def tangent(g, p, m):
      if not (m and project_gradient):
        return g
      p32, g32 = p.astype(jnp.float32), g.astype(jnp.float32)
      proj = g32 - jnp.sum(g32 * p32) / (sqnorm(p32) + _TINY) * p32
      return jnp.where(on, proj, g32).astype(g.dtype)

    grads = jax.tree.map(tangent, updates, params, flags)
    new_updates, inner_state = inner.update(grads, state.inner, params, **extra_args)

    def project(u, p, c, m):
      if not m:
        return u.astype(p.dtype)
      new = p.astype(jnp.float32) + u.astype(jnp.float32)
      onto = c * new / (jnp.sqrt(sqnorm(new)) + _TINY) - p.astype(jnp.float32)
      return jnp.where(on, onto, u.astype(jnp.float32)).astype(p.dtype)

    new_updates = jax.tree.map(project, new_updates, params, norms, flags)
    return new_updates, LawnState(state.count + 1, norms, inner_state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def lawn_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  free_steps: int = 1000,
) -> optax.GradientTransformationExtraArgs:
  """Adam-LAWN: `optax.adam` in the free phase, norm-constrained layers afterwards."""
  return lawn(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps), free_steps=free_steps)


def lawn_sgd(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  free_steps: int = 1000,
) -> optax.GradientTransformationExtraArgs:
  """SGD-LAWN: heavy-ball SGD in the free phase, norm-constrained layers afterwards."""
  return lawn(optax.sgd(learning_rate, momentum=momentum or None), free_steps=free_steps)

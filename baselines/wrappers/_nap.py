"""NaP (Normalize-and-Project): keep each weight tensor on the sphere of its initial norm."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class NapState(NamedTuple):
  """State of `normalize_and_project`: step count, the inner state, the initial norms."""

  count: jax.Array
  inner: optax.OptState
  init_norm: optax.Params


def normalize_and_project(
  inner: optax.GradientTransformation, *, min_ndim: int = 2
) -> optax.GradientTransformationExtraArgs:
  r"""Projects weight tensors back to their initial norm after every inner step.

  For every tensor $W$ with at least `min_ndim` dimensions and a nonzero initial norm
  $\lVert W_0\rVert$ (layers followed by a normalization layer, in the paper):

  $$W_{t+1} = \lVert W_0\rVert \frac{W_t + u_t}{\lVert W_t + u_t\rVert},$$

  with $u_t$ the inner optimizer's update. Other tensors (biases, gains, zero-initialized
  weights) take the inner update unchanged. With a constant weight norm, the learning rate
  schedule is the effective one.

  Args:
    inner: the optimizer (updates added to the parameters); extra args are forwarded.
    min_ndim: tensors with fewer dimensions are not projected.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`.

  References:
    Lyle et al., Normalization and effective learning rates in reinforcement learning,
    https://arxiv.org/abs/2407.01800
  """
  if min_ndim < 0:
    raise ValueError(f"min_ndim must be >= 0, got {min_ndim}.")
  inner = optax.with_extra_args_support(inner)

  def init_fn(params):
    norms = jax.tree.map(lambda p: jnp.linalg.norm(p.astype(jnp.float32)), params)
    return NapState(jnp.zeros([], jnp.int32), inner.init(params), norms)

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("normalize_and_project needs `params` in update.")
    new_updates, inner_state = inner.update(updates, state.inner, params, **extra_args)

    def project(u, p, n0):
      if p.ndim < min_ndim:
        return u.astype(p.dtype)
      new = p.astype(jnp.float32) + u.astype(jnp.float32)
      norm = jnp.linalg.norm(new)
      scale = jnp.where((n0 > 0) & (norm > 0), n0 / jnp.where(norm > 0, norm, 1.0), 1.0)
      return (new * scale - p.astype(jnp.float32)).astype(p.dtype)

    new_updates = jax.tree.map(project, new_updates, params, state.init_norm)
    return new_updates, NapState(optax.safe_increment(state.count), inner_state, state.init_norm)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def nap_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  """NaP around `optax.adam` (the paper's RL agents use Adam)."""
  return normalize_and_project(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps))

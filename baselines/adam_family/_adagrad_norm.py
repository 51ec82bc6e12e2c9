"""AdaGrad-Norm: AdaGrad with one scalar accumulator for the whole model."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByAdagradNormState(NamedTuple):
  """State of `scale_by_adagrad_norm`."""

  count: jax.Array  # int32 step count
  b_sq: jax.Array  # b_t² = b_0² + Σ_{i≤t} ‖g_i‖², float32


def _sq_norm(tree) -> jax.Array:
  return sum(
    (jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree.leaves(tree)),
    start=jnp.zeros((), jnp.float32),
  )


def scale_by_adagrad_norm(b0: float = 1e-8) -> optax.GradientTransformation:
  r"""AdaGrad-Norm's direction g_t / b_t with one scalar accumulator for all parameters.

    b_t² = b_{t-1}² + ‖g_t‖²   (global norm over the whole pytree),  direction = g_t / b_t

  Args:
    b0: initial accumulator b_0 (> 0).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Lau, Liu & Kolar, AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods,
    https://arxiv.org/abs/2402.11215; Ward, Wu & Bottou, AdaGrad stepsizes,
    https://arxiv.org/abs/1806.01811
  """
  if b0 <= 0:
    raise ValueError(f"b0 must be > 0, got {b0}.")

  def init_fn(params):
    del params
    return ScaleByAdagradNormState(
      count=jnp.zeros((), jnp.int32), b_sq=jnp.asarray(b0 * b0, jnp.float32)
    )

  def update_fn(updates, state, params=None):
    del params
    b_sq = state.b_sq + _sq_norm(updates)
    inv_b = jax.lax.rsqrt(b_sq)
    out = jax.tree.map(lambda g: (g.astype(jnp.float32) * inv_b).astype(g.dtype), updates)
    return out, ScaleByAdagradNormState(count=optax.safe_increment(state.count), b_sq=b_sq)

  return optax.GradientTransformation(init_fn, update_fn)


def adagrad_norm(
  learning_rate: optax.ScalarOrSchedule = 1.0, b0: float = 1e-8
) -> optax.GradientTransformation:
  """AdaGrad-Norm: x_{t+1} = x_t - lr · g_t / b_t (see `scale_by_adagrad_norm`).

  Args:
    learning_rate: the step size η.
    b0: initial accumulator.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Lau, Liu & Kolar, AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods,
    https://arxiv.org/abs/2402.11215
  """
  return optax.chain(scale_by_adagrad_norm(b0), optax.scale_by_learning_rate(learning_rate))

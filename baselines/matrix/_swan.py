"""SWAN: stateless SGD on the row-standardized, whitened gradient."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import (
  CUBIC_COEFFS,
  fallback_adamw,
  matrix_optimizer,
  newton_schulz,
  require_matrix,
)


def swan_direction(
  g: jax.Array, ns_steps: int = 10, rescale: bool = True, eps: float = 1e-8
) -> jax.Array:
  """GradNorm then GradWhitening of one ``(fan_in, fan_out)`` matrix; see `scale_by_swan`."""
  g = g.astype(jnp.float32)
  mean = jnp.mean(g, axis=0, keepdims=True)
  std = jnp.sqrt(jnp.mean((g - mean) ** 2, axis=0, keepdims=True))
  gn = (g - mean) / (std + eps)
  gram = gn.T @ gn if gn.shape[0] > gn.shape[1] else gn @ gn.T
  x = gn / (jnp.sqrt(jnp.linalg.norm(gram)) + eps)
  w = newton_schulz(x, steps=ns_steps, coeffs=CUBIC_COEFFS, normalize=False)
  if rescale:
    w = w * jnp.linalg.norm(gn) / (jnp.linalg.norm(w) + eps)
  return w


def scale_by_swan(
  ns_steps: int = 10, rescale: bool = True, eps: float = 1e-8
) -> optax.GradientTransformation:
  r"""The SWAN direction of 2-D matrices ``(fan_in, fan_out)``; no state.

  GradNorm standardizes the gradient of every output unit over its inputs (the paper's
  row-wise normalization of an ``(out, in)`` matrix), GradWhitening applies
  :math:`(\tilde G \tilde G^\top)^{-1/2} \tilde G` by the coupled Newton–Schulz iteration
  (equivalently the cubic iteration of `baselines.matrix.common.newton_schulz` started from
  :math:`\tilde G / \|\tilde G \tilde G^\top\|_F^{1/2}`):

  .. math::
    \tilde G_{:,j} = \frac{G_{:,j} - \mu_j}{\sigma_j + \epsilon},\quad
    W = \mathrm{NS}_{k}\big(\tilde G\big) \approx U V^\top,\quad
    \Delta = \frac{\|\tilde G\|_F}{\|W\|_F} W\ \text{(rescale)},

  with :math:`\mu_j, \sigma_j` the mean and (population) standard deviation of column
  :math:`j` over the input axis.

  Args:
    ns_steps: Newton–Schulz iterations of the whitening.
    rescale: restore the Frobenius norm of the standardized gradient (entry RMS 1, like an
      Adam step), the paper's optional rescaling.
    eps: added to the standard deviation and the norms.

  Returns:
    A stateless `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Ma et al., SWAN: SGD with Normalization and Whitening Enables Stateless LLM Training,
    https://arxiv.org/abs/2412.13148
  """
  if ns_steps < 1:
    raise ValueError(f"ns_steps must be >= 1; got {ns_steps}.")

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_swan")
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    del params
    out = jax.tree.map(lambda g: swan_direction(g, ns_steps, rescale, eps).astype(g.dtype), updates)
    return out, state

  return optax.GradientTransformation(init_fn, update_fn)


def swan(
  learning_rate: optax.ScalarOrSchedule,
  ns_steps: int = 10,
  rescale: bool = True,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""SWAN on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(\Delta + \lambda\theta)`.

  Args:
    learning_rate: a scalar or a schedule.
    ns_steps, rescale: see `scale_by_swan`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = swan(learning_rate=1e-3)

  References:
    Ma et al., SWAN: SGD with Normalization and Whitening Enables Stateless LLM Training,
    https://arxiv.org/abs/2412.13148
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_swan(ns_steps=ns_steps, rescale=rescale),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    fallback_adamw(fallback_lr),
    label_fn,
  )

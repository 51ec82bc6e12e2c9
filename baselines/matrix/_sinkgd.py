"""SinkGD: stateless SGD on the Sinkhorn-like (SR-Sinkhorn) row/column-normalized gradient."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import fallback_adamw, matrix_optimizer, require_matrix


def sinkhorn_normalize(g: jax.Array, num_iters: int = 5, eps: float = 1e-8) -> jax.Array:
  """`num_iters` alternating column/row l2 normalizations of a ``(fan_in, fan_out)`` matrix."""
  x = g.astype(jnp.float32)
  fan_in, fan_out = x.shape
  for _ in range(num_iters):
    x = x * (fan_in**0.5 / (jnp.linalg.norm(x, axis=0, keepdims=True) + eps))
    x = x * (fan_out**0.5 / (jnp.linalg.norm(x, axis=1, keepdims=True) + eps))
  return x


def scale_by_sinkgd(num_iters: int = 5, eps: float = 1e-8) -> optax.GradientTransformation:
  r"""The SinkGD direction of 2-D matrices ``(fan_in, fan_out)``; no state.

  :math:`L` SR-Sinkhorn passes, each normalizing every output unit's gradient (a column
  here, a row of the paper's ``(out, in)`` layout) to norm :math:`\sqrt{\text{fan\_in}}`,
  then every input's gradient (a row here) to norm :math:`\sqrt{\text{fan\_out}}`:

  .. math::
    X \leftarrow \sqrt{n_{in}}\, X\, D_{col}(X)^{-1},\qquad
    X \leftarrow \sqrt{n_{out}}\, D_{row}(X)^{-1} X,\qquad X_0 = G,

  with :math:`D` the diagonal matrices of column / row :math:`\ell_2` norms (plus
  :math:`\epsilon`). At the fixed point every row and column has entry RMS 1.

  Args:
    num_iters: :math:`L`, the number of alternating passes.
    eps: added to the norms.

  Returns:
    A stateless `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Scetbon et al., Gradient Multi-Normalization for Stateless and Scalable LLM Training,
    https://arxiv.org/abs/2502.06742
  """
  if num_iters < 1:
    raise ValueError(f"num_iters must be >= 1; got {num_iters}.")

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_sinkgd")
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    del params
    out = jax.tree.map(lambda g: sinkhorn_normalize(g, num_iters, eps).astype(g.dtype), updates)
    return out, state

  return optax.GradientTransformation(init_fn, update_fn)


def sinkgd(
  learning_rate: optax.ScalarOrSchedule,
  num_iters: int = 5,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""SinkGD on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(X_L + \lambda\theta)`.

  Args:
    learning_rate: a scalar or a schedule.
    num_iters: see `scale_by_sinkgd`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = sinkgd(learning_rate=1e-3)

  References:
    Scetbon et al., Gradient Multi-Normalization for Stateless and Scalable LLM Training,
    https://arxiv.org/abs/2502.06742
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_sinkgd(num_iters=num_iters),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    fallback_adamw(fallback_lr),
    label_fn,
  )

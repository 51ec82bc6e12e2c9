"""SCALE: column-normalized SGD with first-order momentum on the last layer only."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import (
  FALLBACK,
  MATRIX,
  as_matrices,
  fallback_adamw,
  matrix_labels,
  require_matrix,
)

LAST = "last_layer"
HEAD_NAMES = ("head", "output", "logits", "unembed", "readout", "classifier")


def default_last_layer(params: optax.Params):
  """Which matrices form the output layer (a pytree of bools).

  The matrices whose tree path names one of `HEAD_NAMES` (case-insensitive); when none
  does, the last leaf with >= 2 axes in flattening order (the output layer of a list of
  layers; dict keys flatten in sorted order, so pass your own function when names do not
  say which layer is last).
  """
  leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
  is_mat = [jnp.ndim(x) >= 2 for _, x in leaves]
  named = [
    m and any(h in jax.tree_util.keystr(path).lower() for h in HEAD_NAMES)
    for (path, _), m in zip(leaves, is_mat, strict=True)
  ]
  if not any(named) and any(is_mat):
    last = max(i for i, m in enumerate(is_mat) if m)
    named = [i == last for i in range(len(leaves))]
  return jax.tree_util.tree_unflatten(treedef, named)


def column_normalize(g: jax.Array, eps: float = 1e-8) -> jax.Array:
  """Each input's gradient (a row of a ``(fan_in, fan_out)`` matrix) over its outputs."""
  g = g.astype(jnp.float32)
  return g / (jnp.linalg.norm(g, axis=1, keepdims=True) + eps)


def scale_by_column_norm(eps: float = 1e-8) -> optax.GradientTransformation:
  r"""SCALE's normalization of 2-D matrices ``(fan_in, fan_out)``; no state.

  .. math::
    C(M)_{i,:} = M_{i,:} / (\|M_{i,:}\|_2 + \epsilon),

  the paper's column-wise normalization of an ``(out, in)`` matrix, i.e. along the output
  dimension (steepest descent under the :math:`\ell_1 \to \ell_2` operator norm).

  Args:
    eps: added to the norms.

  Returns:
    A stateless `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Glentis et al., A Minimalist Optimizer Design for LLM Pretraining,
    https://arxiv.org/abs/2506.16659
  """

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_column_norm")
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(lambda g: column_normalize(g, eps).astype(g.dtype), updates), state

  return optax.GradientTransformation(init_fn, update_fn)


def scale(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
  last_layer_fn: Callable[[optax.Params], object] = default_last_layer,
) -> optax.GradientTransformationExtraArgs:
  r"""SCALE (Stochastic Column-normAlized Last-layer momEntum).

  .. math::
    M_t = \beta M_{t-1} + (1-\beta) G_t\ \text{(last layer)},\quad M_t = G_t\ \text{(other
    matrices)},\qquad \theta \leftarrow \theta - \eta\,(C(M_t) + \lambda\theta),

  with :math:`C` of `scale_by_column_norm`. Only the output layer keeps a state; vectors and
  scalars go to the AdamW fallback.

  Args:
    learning_rate: a scalar or a schedule.
    b1: momentum decay :math:`\beta` of the last layer.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.
    last_layer_fn: `params -> pytree of bools` marking the output layer;
      `default_last_layer` (names such as "head", "logits", else the last matrix).

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = scale(learning_rate=1e-3)

  References:
    Glentis et al., A Minimalist Optimizer Design for LLM Pretraining,
    https://arxiv.org/abs/2506.16659
  """
  if not 0.0 <= b1 < 1.0:
    raise ValueError(f"b1 must lie in [0, 1); got {b1}.")
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  base_labels = label_fn or matrix_labels

  def labels(params):
    return jax.tree.map(
      lambda lab, last: LAST if (lab == MATRIX and last) else lab,
      base_labels(params),
      last_layer_fn(params),
    )

  def tail():
    return (
      scale_by_column_norm(),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    )

  return optax.multi_transform(
    {
      MATRIX: as_matrices(optax.chain(*tail())),
      LAST: as_matrices(optax.chain(optax.ema(b1, debias=False), *tail())),
      FALLBACK: fallback_adamw(fallback_lr),
    },
    labels,
  )

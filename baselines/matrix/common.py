"""Shared infrastructure of the matrix optimizers (Shampoo, SOAP, Muon, AuON, SWAN, SinkGD, ...).

Two pieces, written once and used by every matrix method of `baselines/`:

1. **Which parameters are matrices.** `matrix_labels(params)` labels a leaf `"matrix"` when it
   has two or more axes and `"fallback"` otherwise (vectors, scalars). A matrix method sees
   every `"matrix"` leaf as a 2-D array through the reshape rule of `as_matrix` (the matrix
   view of `baselines.axes`, where the conventions of every layout are stated):

     a leaf of shape ``(d_1, ..., d_{k-1}, d_k)`` is the matrix
     ``(d_1 * ... * d_{k-1}, d_k)``,

   i.e. the last axis is the output axis and all others are merged into the input axis. A
   dense kernel ``(in, out)`` stays as it is; a convolution kernel ``(h, w, in, out)`` (flax /
   haiku layout) becomes ``(h * w * in, out)``; a stacked ``(layers, in, out)`` kernel becomes
   ``(layers * in, out)`` (pass your own `label_fn` to handle such stacks otherwise). This is
   the convention of `optax.contrib.muon` (reduction axes first, output axis last).
   `matrix_optimizer(matrix_tx, fallback_tx, label_fn=...)` routes the two groups through
   `optax.multi_transform`; the matrix transform runs on the reshaped 2-D views and its
   updates are reshaped back. Users override the split with their own `label_fn`
   (`params -> pytree of "matrix" / "fallback"`), e.g. to send embeddings and the output
   head to the fallback as the Muon authors recommend.

2. **Newton–Schulz orthogonalization.** `newton_schulz(x, steps, coeffs)` iterates
   ``X <- a X + (b A + c A^2) X`` with ``A = X X^T`` from ``X_0 = x / ||x||_F``: the cubic
   coefficients ``(1.5, -0.5, 0)`` converge to the polar factor ``U V^T`` of ``x = U S V^T``
   (the classical iteration; it equals the coupled Newton–Schulz iteration for
   ``(x x^T)^{-1/2} x`` used by SWAN), Muon's quintic coefficients
   ``(3.4445, -4.7750, 2.0315)`` reach ``U S' V^T`` with ``S'`` roughly in [0.7, 1.2] in five
   steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from baselines.axes import as_matrix

MATRIX = "matrix"
FALLBACK = "fallback"

MUON_COEFFS = (3.4445, -4.7750, 2.0315)
CUBIC_COEFFS = (1.5, -0.5, 0.0)

LabelFn = Callable[[optax.Params], Any]


def matrix_labels(params: optax.Params) -> Any:
  """The default split: `"matrix"` for leaves with >= 2 axes, `"fallback"` for the rest."""
  return jax.tree.map(lambda x: MATRIX if jnp.ndim(x) >= 2 else FALLBACK, params)


def require_matrix(x: jax.Array, who: str) -> None:
  """Raises a ValueError naming `who` when `x` is not 2-D."""
  if x.ndim != 2:
    raise ValueError(
      f"{who} acts on 2-D matrices; got a leaf of shape {x.shape}. Wrap it with "
      "`baselines.matrix.common.matrix_optimizer` (or `as_matrices`) to reshape tensors and send "
      "vectors to a fallback."
    )


def as_matrices(tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
  """`tx` run on the 2-D views (`as_matrix`) of every leaf; updates come back in shape.

  `params` given to `update` are reshaped too; other extra args pass through unchanged.
  """
  tx = optax.with_extra_args_support(tx)

  def to_2d(tree):
    return None if tree is None else jax.tree.map(as_matrix, tree)

  def init_fn(params):
    return tx.init(to_2d(params))

  def update_fn(updates, state, params=None, **extra_args):
    flat, state = tx.update(to_2d(updates), state, to_2d(params), **extra_args)
    flat = jax.tree.map(lambda u, g: u.reshape(g.shape), flat, updates)
    return flat, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def matrix_optimizer(
  matrix_tx: optax.GradientTransformation,
  fallback_tx: optax.GradientTransformation,
  label_fn: LabelFn | None = None,
) -> optax.GradientTransformationExtraArgs:
  """`matrix_tx` on the matrices (as 2-D views), `fallback_tx` on every other leaf.

  Args:
    matrix_tx: a transform that expects 2-D leaves.
    fallback_tx: the transform for leaves labelled `"fallback"` (vectors, scalars).
    label_fn: `params -> pytree of "matrix" / "fallback"` (called on the updates at each
      step, so it may only read shapes and tree paths); `matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs` (extra args reach both transforms).

  Example:
    >>> opt = matrix_optimizer(scale_by_swan(), optax.adamw(1e-3))
  """
  return optax.multi_transform(
    {MATRIX: as_matrices(matrix_tx), FALLBACK: fallback_tx}, label_fn or matrix_labels
  )


def newton_schulz(
  x: jax.Array,
  steps: int = 5,
  coeffs: tuple[float, float, float] = MUON_COEFFS,
  *,
  normalize: bool = True,
  eps: float = 1e-7,
) -> jax.Array:
  r"""Newton–Schulz orthogonalization of a matrix, in float32.

  .. math::
    X_0 = x / (\|x\|_F + \epsilon),\qquad
    X_{k+1} = a X_k + (b A_k + c A_k^2) X_k,\quad A_k = X_k X_k^\top,

  computed on the smaller Gram matrix (the iteration commutes with transposition).

  Args:
    x: a 2-D array.
    steps: number of iterations.
    coeffs: ``(a, b, c)``: `MUON_COEFFS` (quintic, five steps) or `CUBIC_COEFFS` (the
      classical iteration, converging to ``U V^T`` for singular values in (0, sqrt(3))).
    normalize: divide by the Frobenius norm first (every singular value then lies in
      (0, 1]); pass False when `x` is already scaled.
    eps: added to the norm.

  Returns:
    The float32 matrix :math:`X_{steps}` of `x`'s shape.
  """
  require_matrix(x, "newton_schulz")
  a, b, c = coeffs
  X = x.astype(jnp.float32)
  transposed = X.shape[0] > X.shape[1]
  if transposed:
    X = X.T
  if normalize:
    X = X / (jnp.linalg.norm(X) + eps)
  for _ in range(steps):
    A = X @ X.T
    B = b * A + c * (A @ A) if c != 0.0 else b * A
    X = a * X + B @ X
  return X.T if transposed else X


def fallback_adamw(
  learning_rate: optax.ScalarOrSchedule, weight_decay: float = 0.0
) -> optax.GradientTransformation:
  """The default fallback for vectors and scalars: `optax.adamw` with its defaults."""
  return optax.adamw(learning_rate, weight_decay=weight_decay)

"""Conda: Adam in the orthogonal basis of the momentum's singular vectors (column-normalized)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import linalg
from baselines.matrix.common import matrix_optimizer, require_matrix


class ScaleByCondaState(NamedTuple):
  """State of `scale_by_conda` (float32).

  `proj` is the orthogonal ``(n, n)`` basis (right singular vectors) of a tall-or-square
  ``(m, n)`` matrix, or the ``(m, m)`` basis (left singular vectors) of a wide one.
  """

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  proj: optax.Updates


def scale_by_conda(
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  update_proj_gap: int = 2000,
  scale: float = 1.0,
) -> optax.GradientTransformation:
  r"""The Conda direction of 2-D matrices.

  .. math::
    M_t = \beta_1 M_{t-1} + (1-\beta_1) G_t,\qquad
    P \leftarrow \text{singular vectors of } M_t \text{ when } t = 1 \text{ or }
      t \equiv 0 \ (\mathrm{mod}\ T),\\
    \tilde G = \Pi(G_t),\ \tilde M = \Pi(M_t),\quad
    V_t = \beta_2 V_{t-1} + (1-\beta_2)\tilde G^2,\quad
    D_t = s\,\Pi^{-1}\!\Big(\frac{\tilde M}{\sqrt{V_t} + \epsilon}\Big)
      \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t},

  where for an ``(m, n)`` matrix with :math:`m \ge n`, :math:`\Pi(X) = X P^\top` with
  :math:`P = V^\top` (right singular vectors of :math:`M_t`), and for :math:`m < n`,
  :math:`\Pi(X) = P^\top X` with :math:`P = U` (left singular vectors). The second moment
  is element-wise in the rotated coordinates: each rotated column gets its own scale.

  Args:
    b1, b2: moment decays.
    eps: added to :math:`\sqrt{V_t}`.
    update_proj_gap: :math:`T`, steps between SVD refreshes of the basis.
    scale: :math:`s`, scale of the back-projection.

  Returns:
    An `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Conda: Column-Normalized Adam for Training Large Language Models Faster,
    https://arxiv.org/abs/2509.24218
  """
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got b1={b1}, b2={b2}.")
  if update_proj_gap < 1:
    raise ValueError(f"update_proj_gap must be >= 1; got {update_proj_gap}.")

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_conda")
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    proj = jax.tree.map(lambda p: jnp.zeros((min(p.shape),) * 2, jnp.float32), params)
    return ScaleByCondaState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros(), proj=proj)

  def basis(m):
    u, _, vh = linalg.svd(m)
    return vh if m.shape[0] >= m.shape[1] else u

  def project(x, p):
    return x @ p.T if x.shape[0] >= x.shape[1] else p.T @ x

  def project_back(y, p):
    return y @ p if y.shape[0] >= y.shape[1] else p @ y

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    refresh = (count == 1) | (count % update_proj_gap == 0)
    mu = jax.tree.map(lambda g, m: b1 * m + (1 - b1) * g.astype(jnp.float32), updates, state.mu)
    proj = jax.tree.map(lambda m, p: jax.lax.cond(refresh, basis, lambda _: p, m), mu, state.proj)
    nu = jax.tree.map(
      lambda g, v, p: b2 * v + (1 - b2) * project(g.astype(jnp.float32), p) ** 2,
      updates,
      state.nu,
      proj,
    )
    t = count.astype(jnp.float32)
    step = jnp.sqrt(1 - b2**t) / (1 - b1**t)

    def direction(g, m, v, p):
      d = project_back(project(m, p) / (jnp.sqrt(v) + eps), p)
      return (scale * step * d).astype(g.dtype)

    out = jax.tree.map(direction, updates, mu, nu, proj)
    return out, ScaleByCondaState(count=count, mu=mu, nu=nu, proj=proj)

  return optax.GradientTransformation(init_fn, update_fn)


def conda(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  update_proj_gap: int = 2000,
  scale: float = 1.0,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""Conda on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(D_t + \lambda\theta)`.

  Vectors and scalars get AdamW with the same ``(b1, b2, eps, weight_decay)`` (the reference
  code's Adam on 1-D parameters).

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, eps, update_proj_gap, scale: see `scale_by_conda`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = conda(learning_rate=1e-3)

  References:
    Conda: Column-Normalized Adam for Training Large Language Models Faster,
    https://arxiv.org/abs/2509.24218
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_conda(b1=b1, b2=b2, eps=eps, update_proj_gap=update_proj_gap, scale=scale),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    optax.adamw(fallback_lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay),
    label_fn,
  )

"""SOAP: Adam in the slowly refreshed eigenbasis of Shampoo's preconditioner."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import linalg
from baselines.matrix.common import matrix_optimizer, require_matrix


class ScaleBySoapState(NamedTuple):
  """State of `scale_by_soap` (float32).

  `mu` is the momentum in the original coordinates, `nu` the second moment in the rotated
  ones; `stats_l`, `stats_r` the EMAs of :math:`GG^\\top`, :math:`G^\\top G`; `q_l`, `q_r`
  their eigenbases. A side longer than `max_precond_dim` keeps a ``(0, 0)`` placeholder
  and is not rotated.
  """

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  stats_l: optax.Updates
  stats_r: optax.Updates
  q_l: optax.Updates
  q_r: optax.Updates


def _eigenbasis(s: jax.Array) -> jax.Array:
  """Eigenvectors of a symmetric matrix, by decreasing eigenvalue."""
  _, v = linalg.eigh(s)
  return v[:, ::-1]


def scale_by_soap(
  b1: float = 0.95,
  b2: float = 0.95,
  shampoo_beta: float | None = None,
  eps: float = 1e-8,
  precondition_frequency: int = 10,
  max_precond_dim: int = 10000,
) -> optax.GradientTransformation:
  r"""The SOAP direction of 2-D matrices.

  Step 1 only sets up the preconditioner (no update): :math:`L = (1-\beta_s) GG^\top`,
  :math:`R = (1-\beta_s) G^\top G`, :math:`Q_L, Q_R` their eigenvectors (decreasing
  eigenvalues). At every later step, with :math:`s = t - 1`:

  .. math::
    M_s = \beta_1 M_{s-1} + (1-\beta_1) G,\quad G' = Q_L^\top G Q_R,\quad
    M' = Q_L^\top M_s Q_R,\quad V_s = \beta_2 V_{s-1} + (1-\beta_2) G'^2,\\
    D = \frac{\sqrt{1-\beta_2^s}}{1-\beta_1^s}\; Q_L \frac{M'}{\sqrt{V_s} + \epsilon} Q_R^\top,

  then :math:`L \leftarrow \beta_s L + (1-\beta_s) GG^\top` (same for :math:`R`) and, when
  :math:`s \equiv 0 \pmod f`, one power-iteration + QR refresh of each basis: sort the
  columns of :math:`Q` by the estimated eigenvalues :math:`\mathrm{diag}(Q^\top L Q)`
  (permuting :math:`V` alike), then :math:`Q \leftarrow \mathrm{QR}(L Q)`.

  Args:
    b1, b2: Adam's moment decays.
    shampoo_beta: :math:`\beta_s`, decay of the statistics; `b2` when None.
    eps: added to :math:`\sqrt{V}`.
    precondition_frequency: :math:`f`, steps between basis refreshes.
    max_precond_dim: sides longer than this are left unrotated (identity basis).

  Returns:
    An `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Vyas et al., SOAP: Improving and Stabilizing Shampoo using Adam,
    https://arxiv.org/abs/2409.11321
  """
  bs = b2 if shampoo_beta is None else shampoo_beta
  if not all(0.0 <= b < 1.0 for b in (b1, b2, bs)):
    raise ValueError(f"b1, b2 and shampoo_beta must lie in [0, 1); got {b1}, {b2}, {bs}.")
  if precondition_frequency < 1:
    raise ValueError(f"precondition_frequency must be >= 1; got {precondition_frequency}.")

  def side(n):
    return n if n <= max_precond_dim else 0

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_soap")
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    square = lambda ax: jax.tree.map(
      lambda p: jnp.zeros((side(p.shape[ax]),) * 2, jnp.float32), params
    )
    return ScaleBySoapState(
      count=jnp.zeros([], jnp.int32),
      mu=zeros(),
      nu=zeros(),
      stats_l=square(0),
      stats_r=square(1),
      q_l=square(0),
      q_r=square(1),
    )

  def rotate(x, ql, qr):
    if ql.size:
      x = ql.T @ x
    if qr.size:
      x = x @ qr
    return x

  def rotate_back(x, ql, qr):
    if ql.size:
      x = ql @ x
    if qr.size:
      x = x @ qr.T
    return x

  def stats(s, g, ax):
    if not s.size:
      return s
    gg = g @ g.T if ax == 0 else g.T @ g
    return bs * s + (1 - bs) * gg

  def refresh_qr(sl, sr, ql, qr, v):
    if ql.size:
      order = jnp.argsort(-jnp.diag(ql.T @ sl @ ql))
      v, ql = v[order, :], ql[:, order]
      ql = linalg.qr(sl @ ql)[0]
    if qr.size:
      order = jnp.argsort(-jnp.diag(qr.T @ sr @ qr))
      v, qr = v[:, order], qr[:, order]
      qr = linalg.qr(sr @ qr)[0]
    return ql, qr, v

  def leaf(g, m, v, sl, sr, ql, qr, count):
    g = g.astype(jnp.float32)
    first = count == 0
    s = count.astype(jnp.float32)  # steps taken after the set-up step, this one included
    m_new = b1 * m + (1 - b1) * g
    g_rot = rotate(g, ql, qr)
    v_new = b2 * v + (1 - b2) * g_rot**2
    step = jnp.sqrt(1 - b2 ** jnp.maximum(s, 1.0)) / (1 - b1 ** jnp.maximum(s, 1.0))
    d = step * rotate_back(rotate(m_new, ql, qr) / (jnp.sqrt(v_new) + eps), ql, qr)
    sl, sr = stats(sl, g, 0), stats(sr, g, 1)

    def set_up(_):
      el = _eigenbasis(sl) if ql.size else ql
      er = _eigenbasis(sr) if qr.size else qr
      return el, er, v

    def later(_):
      return jax.lax.cond(
        (count % precondition_frequency) == 0,
        lambda _: refresh_qr(sl, sr, ql, qr, v_new),
        lambda _: (ql, qr, v_new),
        None,
      )

    ql, qr, v_out = jax.lax.cond(first, set_up, later, None)
    m_out = jnp.where(first, m, m_new)
    d = jnp.where(first, jnp.zeros_like(d), d)
    return d, m_out, v_out, sl, sr, ql, qr

  def update_fn(updates, state, params=None):
    del params
    treedef = jax.tree.structure(updates)
    leaves = zip(
      *(
        treedef.flatten_up_to(x)
        for x in (updates, state.mu, state.nu, state.stats_l, state.stats_r, state.q_l, state.q_r)
      ),
      strict=True,
    )
    outs = [leaf(*xs, state.count) for xs in leaves]
    cols = [treedef.unflatten(list(c)) for c in zip(*outs, strict=True)] if outs else [updates] * 7
    d, mu, nu, sl, sr, ql, qr = cols
    d = jax.tree.map(lambda x, g: x.astype(g.dtype), d, updates)
    count = optax.safe_increment(state.count)
    return d, ScaleBySoapState(count, mu, nu, sl, sr, ql, qr)

  return optax.GradientTransformation(init_fn, update_fn)


def soap(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.95,
  b2: float = 0.95,
  shampoo_beta: float | None = None,
  eps: float = 1e-8,
  precondition_frequency: int = 10,
  max_precond_dim: int = 10000,
  weight_decay: float = 0.01,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""SOAP on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(D + \lambda\theta)`.

  Vectors and scalars get AdamW with the same ``(b1, b2, eps, weight_decay)`` (SOAP's
  default ``precondition_1d=False`` is Adam on them). Weight decay also applies at the
  set-up step, where the reference code skips the parameter entirely.

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, shampoo_beta, eps, precondition_frequency, max_precond_dim: see `scale_by_soap`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = soap(learning_rate=3e-3)

  References:
    Vyas et al., SOAP: Improving and Stabilizing Shampoo using Adam,
    https://arxiv.org/abs/2409.11321
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_soap(
        b1=b1,
        b2=b2,
        shampoo_beta=shampoo_beta,
        eps=eps,
        precondition_frequency=precondition_frequency,
        max_precond_dim=max_precond_dim,
      ),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    optax.adamw(fallback_lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay),
    label_fn,
  )

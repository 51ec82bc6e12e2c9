"""AuON and Hybrid-AuON: momentum normalized by a cosh-RMS scale instead of orthogonalized."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import (
  MUON_COEFFS,
  fallback_adamw,
  matrix_optimizer,
  newton_schulz,
  require_matrix,
)


class ScaleByAuonState(NamedTuple):
  """State of `scale_by_auon`: the step count and the momentum (float32)."""

  count: jax.Array
  mu: optax.Updates


def scale_by_auon(
  b1: float = 0.95,
  nesterov: bool = True,
  hybrid: bool = False,
) -> optax.GradientTransformation:
  r"""The AuON direction of 2-D matrices ``(fan_in, fan_out)``.

  .. math::
    M_t = \beta M_{t-1} + (1-\beta) G_t,\quad
    \hat G_t = \beta M_t + (1-\beta) G_t\ \text{(Nesterov; else } M_t),\\
    X_t = \hat G_t / (\|\hat G_t\|_F + 10^{-7})\quad
    (\text{Hybrid-AuON: then one quintic Newton–Schulz step } X \leftarrow aX + (bA + cA^2)X),\\
    U_t = \frac{X_t}{\sqrt{\tfrac1N \sum_{ij} \cosh(X_t)_{ij}^2} + 10^{-8}}
      \cdot \sqrt{\max(1, \text{fan\_out}/\text{fan\_in})},

  with :math:`N` the number of entries. The cosh-RMS scale is at least 1 and grows with
  heavy-tailed entries, so the update stays inside a spectral-norm ball without any matrix
  factorization (linear time; the hybrid adds one Newton–Schulz step).

  Args:
    b1: momentum decay :math:`\beta`.
    nesterov: use the Nesterov look-ahead :math:`\hat G_t`.
    hybrid: Hybrid-AuON (one Newton–Schulz iteration before the cosh-RMS scaling).

  Returns:
    An `optax.GradientTransformation` for trees of 2-D leaves (see `baselines.matrix`).

  References:
    Maity, AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates,
    https://arxiv.org/abs/2509.24320
  """
  if not 0.0 <= b1 < 1.0:
    raise ValueError(f"b1 must lie in [0, 1); got {b1}.")

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_auon")
    mu = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    return ScaleByAuonState(count=jnp.zeros([], jnp.int32), mu=mu)

  def momentum(g, m):
    return b1 * m + (1 - b1) * g.astype(jnp.float32)

  def direction(g, m):
    look = b1 * m + (1 - b1) * g.astype(jnp.float32) if nesterov else m
    x = look / (jnp.linalg.norm(look) + 1e-7)
    if hybrid:
      x = newton_schulz(x, steps=1, coeffs=MUON_COEFFS, normalize=False)
    rms_cosh = jnp.sqrt(jnp.mean(jnp.cosh(x) ** 2))
    fan_in, fan_out = x.shape
    u = x / (rms_cosh + 1e-8) * max(1.0, fan_out / fan_in) ** 0.5
    return u.astype(g.dtype)

  def update_fn(updates, state, params=None):
    del params
    mu = jax.tree.map(momentum, updates, state.mu)
    u = jax.tree.map(direction, updates, mu)
    return u, ScaleByAuonState(count=optax.safe_increment(state.count), mu=mu)

  return optax.GradientTransformation(init_fn, update_fn)


def _alias(hybrid, learning_rate, b1, nesterov, weight_decay, fallback_learning_rate, label_fn):
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_auon(b1=b1, nesterov=nesterov, hybrid=hybrid),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    fallback_adamw(fallback_lr),
    label_fn,
  )


def auon(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.95,
  nesterov: bool = True,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""AuON on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(U_t + \lambda\theta)`.

  Args:
    learning_rate: a scalar or a schedule.
    b1, nesterov: see `scale_by_auon`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback (vectors, scalars);
      `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = auon(learning_rate=0.05, fallback_learning_rate=1e-3)

  References:
    Maity, AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates,
    https://arxiv.org/abs/2509.24320
  """
  return _alias(False, learning_rate, b1, nesterov, weight_decay, fallback_learning_rate, label_fn)


def hybrid_auon(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.95,
  nesterov: bool = True,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""Hybrid-AuON (`scale_by_auon(hybrid=True)`) on matrices, AdamW on the rest.

  Args:
    learning_rate, b1, nesterov, weight_decay, fallback_learning_rate, label_fn: see `auon`.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  References:
    Maity, AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates,
    https://arxiv.org/abs/2509.24320
  """
  return _alias(True, learning_rate, b1, nesterov, weight_decay, fallback_learning_rate, label_fn)

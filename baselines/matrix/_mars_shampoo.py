"""MARS-Shampoo: MARS variance-reduced momentum, orthogonalized by Newton–Schulz."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import MUON_COEFFS, matrix_optimizer, newton_schulz, require_matrix


class ScaleByMarsShampooState(NamedTuple):
  """State of `scale_by_mars_shampoo`: count, momentum and previous gradient (float32)."""

  count: jax.Array
  mu: optax.Updates
  prev: optax.Updates


def scale_by_mars_shampoo(
  b1: float = 0.95,
  gamma: float = 0.025,
  ns_steps: int = 5,
  eps: float = 1e-7,
) -> optax.GradientTransformation:
  r"""The MARS-Shampoo direction of 2-D matrices ``(fan_in, fan_out)`` (MARS-approx).

  .. math::
    c_t = g_t + \gamma\,\frac{\beta_1}{1-\beta_1}(g_t - g_{t-1}),\quad
    c_t \leftarrow c_t / \max(1, \|c_t\|_F),\quad
    m_t = \beta_1 m_{t-1} + (1-\beta_1) c_t,\\
    d_t = \mathrm{NS}_5\big(m_t / (1-\beta_1)\big)\,\sqrt{\max(1, \text{fan\_out}/\text{fan\_in})},

  with :math:`g_0 = 0` and :math:`\mathrm{NS}_5` five quintic Newton–Schulz steps
  (`baselines.matrix.common.newton_schulz`), the paper's Shampoo preconditioner without
  accumulation, :math:`(m m^\top)^{-1/4} m (m^\top m)^{-1/4} = U V^\top`.

  Args:
    b1: momentum decay :math:`\beta_1`.
    gamma: :math:`\gamma`, scale of the variance-reduction term.
    ns_steps: Newton–Schulz iterations.
    eps: added to the norm before the iteration.

  Returns:
    An `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large Models,
    https://arxiv.org/abs/2411.10438
  """
  if not 0.0 <= b1 < 1.0:
    raise ValueError(f"b1 must lie in [0, 1); got {b1}.")
  if gamma < 0:
    raise ValueError(f"gamma must be >= 0; got {gamma}.")
  vr_scale = gamma * b1 / (1 - b1)

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_mars_shampoo")
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    return ScaleByMarsShampooState(count=jnp.zeros([], jnp.int32), mu=zeros(), prev=zeros())

  def momentum(g, gp, m):
    g = g.astype(jnp.float32)
    c = g + vr_scale * (g - gp)
    c = c / jnp.maximum(1.0, jnp.linalg.norm(c))
    return b1 * m + (1 - b1) * c

  def direction(g, m):
    fan_in, fan_out = m.shape
    o = newton_schulz(m / (1 - b1), steps=ns_steps, coeffs=MUON_COEFFS, eps=eps)
    return (o * max(1.0, fan_out / fan_in) ** 0.5).astype(g.dtype)

  def update_fn(updates, state, params=None):
    del params
    mu = jax.tree.map(momentum, updates, state.prev, state.mu)
    out = jax.tree.map(direction, updates, mu)
    prev = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    count = optax.safe_increment(state.count)
    return out, ScaleByMarsShampooState(count=count, mu=mu, prev=prev)

  return optax.GradientTransformation(init_fn, update_fn)


def mars_shampoo(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.95,
  gamma: float = 0.025,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""MARS-Shampoo on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(d_t + \lambda\theta)` with :math:`d_t` of
  `scale_by_mars_shampoo`. Vectors and scalars: AdamW with betas (0.9, 0.95) and no weight
  decay (the reference code's 1-D AdamW).

  Args:
    learning_rate: a scalar or a schedule.
    b1, gamma: see `scale_by_mars_shampoo`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = mars_shampoo(learning_rate=3e-3)

  References:
    Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large Models,
    https://arxiv.org/abs/2411.10438
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_mars_shampoo(b1=b1, gamma=gamma),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    optax.adamw(fallback_lr, b1=0.9, b2=0.95, weight_decay=0.0),
    label_fn,
  )

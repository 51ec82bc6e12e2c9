"""Grams: Adam's magnitude, the current gradient's sign."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByGramsState(NamedTuple):
  """State of `scale_by_grams`."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def scale_by_grams(
  b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6, eps_after_correction: bool = False
) -> optax.GradientTransformation:
  r"""The Grams direction: Adam's step magnitude with the sign of the current gradient.

  .. math::
    m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\\
    u_t = \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,\frac{m_t}{\sqrt{v_t} + \epsilon},\quad
    d_t = \mathrm{sign}(g_t)\,|u_t|,

  with :math:`\epsilon = 10^{-6}` on the uncorrected root, as the authors' code
  (Gunale0926/Grams `grams/src/grams.py`); `eps_after_correction=True` gives the paper's
  :math:`u_t = \hat m_t / (\sqrt{\hat v_t} + \epsilon)` instead. The two differ where
  :math:`\sqrt{\hat v_t}` is not much larger than :math:`\epsilon / \sqrt{1-\beta_2^t}`
  (gradients of 1e-5 and less with the authors' 1e-6, early steps most).

  Args:
    b1: decay of the first moment.
    b2: decay of the second moment.
    eps: added to :math:`\sqrt{v_t}` (or :math:`\sqrt{\hat v_t}`).
    eps_after_correction: add `eps` to the bias-corrected root (the paper) instead of the
      uncorrected one (the authors' code).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Cao et al., Grams: Gradient Descent with Adaptive Momentum Scaling,
    https://arxiv.org/abs/2412.17107
  """
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got b1={b1}, b2={b2}.")
  if eps < 0:
    raise ValueError(f"eps must be >= 0; got {eps}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros_like(p)
    return ScaleByGramsState(
      count=jnp.zeros([], jnp.int32), mu=jax.tree.map(zeros, params), nu=jax.tree.map(zeros, params)
    )

  def update_fn(updates, state, params=None):
    del params
    count = state.count + 1
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, updates)
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** count.astype(jnp.float32)

    def direction(m, v, g):
      m32, v32 = m.astype(jnp.float32), v.astype(jnp.float32)
      if eps_after_correction:
        u = (m32 / c1) / (jnp.sqrt(v32 / c2) + eps)
      else:
        u = jnp.sqrt(c2) / c1 * m32 / (jnp.sqrt(v32) + eps)
      return (jnp.sign(g.astype(jnp.float32)) * jnp.abs(u)).astype(g.dtype)

    updates = jax.tree.map(direction, mu, nu, updates)
    return updates, ScaleByGramsState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def grams(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  eps_after_correction: bool = False,
) -> optax.GradientTransformation:
  r"""Grams with decoupled weight decay.

  .. math:: \theta \leftarrow \theta - \eta(d_t + \lambda\theta)

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, eps, eps_after_correction: see `scale_by_grams`.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformation`.

  Example:
    >>> opt = grams(learning_rate=1e-3)

  References:
    Cao et al., Grams: Gradient Descent with Adaptive Momentum Scaling,
    https://arxiv.org/abs/2412.17107
  """
  return optax.chain(
    scale_by_grams(b1=b1, b2=b2, eps=eps, eps_after_correction=eps_after_correction),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""Adam-atan2: Adam without epsilon, the division replaced by a bounded atan2."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByAdamAtan2State(NamedTuple):
  """State of `scale_by_adam_atan2`."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def scale_by_adam_atan2(
  b1: float = 0.9, b2: float = 0.999, a: float = 1.2732395, b: float = 1.0
) -> optax.GradientTransformation:
  r"""The Adam-atan2 direction.

  .. math::
    m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\\
    d_t = a\,\mathrm{atan2}\big(\hat m_t,\ b\sqrt{\hat v_t}\big),

  with the bias-corrected :math:`\hat m_t, \hat v_t`. There is no :math:`\epsilon`: `atan2`
  is bounded by :math:`\pi/2` and equals :math:`\hat m/(b\sqrt{\hat v})` to first order, so
  the direction is invariant to the gradient's scale.

  Args:
    b1: decay of the first moment.
    b2: decay of the second moment.
    a: output scale (the paper's :math:`a \approx 4/\pi`, so that `a*atan2(1, 1) = 1`).
    b: scale of :math:`\sqrt{\hat v}` inside `atan2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Everett et al., Scaling Exponents Across Parameterizations and Optimizers,
    https://arxiv.org/abs/2407.05872
  """
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got b1={b1}, b2={b2}.")
  if a <= 0 or b <= 0:
    raise ValueError(f"a and b must be positive; got a={a}, b={b}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros_like(p)
    return ScaleByAdamAtan2State(
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
      m_hat = m.astype(jnp.float32) / c1
      v_hat = v.astype(jnp.float32) / c2
      return (a * jnp.arctan2(m_hat, b * jnp.sqrt(v_hat))).astype(g.dtype)

    updates = jax.tree.map(direction, mu, nu, updates)
    return updates, ScaleByAdamAtan2State(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def adam_atan2(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  a: float = 1.2732395,
  b: float = 1.0,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  r"""Adam-atan2 with decoupled weight decay.

  .. math:: \theta \leftarrow \theta - \eta(d_t + \lambda\theta)

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, a, b: see `scale_by_adam_atan2`.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformation`.

  Example:
    >>> opt = adam_atan2(learning_rate=1e-3)

  References:
    Everett et al., Scaling Exponents Across Parameterizations and Optimizers,
    https://arxiv.org/abs/2407.05872
  """
  return optax.chain(
    scale_by_adam_atan2(b1=b1, b2=b2, a=a, b=b),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

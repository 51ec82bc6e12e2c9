"""Complex momentum: heavy-ball with a complex-valued momentum coefficient."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByComplexMomentumState(NamedTuple):
  """State of `scale_by_complex_momentum`: the complex momentum buffer."""

  count: jax.Array
  mu: optax.Updates


def scale_by_complex_momentum(
  beta_abs: float = 0.9, beta_arg: float = math.pi / 8
) -> optax.GradientTransformation:
  r"""The complex-momentum direction.

  .. math::
    \mu_{t+1} = \beta\,\mu_t - g_t,\quad \beta = |\beta|\,e^{i \arg\beta},\quad
    d_t = -\mathrm{Re}(\mu_{t+1}),

  so that :math:`\theta_{t+1} = \theta_t + \alpha\,\mathrm{Re}(\mu_{t+1})` once scaled by the
  learning rate. The buffer is complex; the parameters stay real. With `beta_arg = 0` this is
  heavy-ball momentum.

  Args:
    beta_abs: modulus :math:`|\beta|` of the momentum coefficient, in [0, 1).
    beta_arg: argument :math:`\arg\beta` in radians.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Lorraine et al., Complex Momentum for Optimization in Games,
    https://arxiv.org/abs/2102.08431
  """
  if not 0.0 <= beta_abs < 1.0:
    raise ValueError(f"beta_abs must lie in [0, 1); got {beta_abs}.")
  beta = complex(beta_abs * math.cos(beta_arg), beta_abs * math.sin(beta_arg))

  def init_fn(params):
    return ScaleByComplexMomentumState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.complex64), params),
    )

  def update_fn(updates, state, params=None):
    del params
    mu = jax.tree.map(lambda m, g: beta * m - g.astype(jnp.float32), state.mu, updates)
    updates = jax.tree.map(lambda m, g: (-jnp.real(m)).astype(g.dtype), mu, updates)
    return updates, ScaleByComplexMomentumState(count=state.count + 1, mu=mu)

  return optax.GradientTransformation(init_fn, update_fn)


def complex_momentum(
  learning_rate: optax.ScalarOrSchedule, beta_abs: float = 0.9, beta_arg: float = math.pi / 8
) -> optax.GradientTransformation:
  r"""SGD with complex momentum: :math:`\theta \leftarrow \theta + \alpha\,\mathrm{Re}(\mu)`.

  Args:
    learning_rate: a scalar or a schedule (:math:`\alpha`).
    beta_abs, beta_arg: see `scale_by_complex_momentum`.

  Returns:
    An `optax.GradientTransformation`.

  Example:
    >>> opt = complex_momentum(learning_rate=1e-2)

  References:
    Lorraine et al., Complex Momentum for Optimization in Games,
    https://arxiv.org/abs/2102.08431
  """
  return optax.chain(
    scale_by_complex_momentum(beta_abs=beta_abs, beta_arg=beta_arg),
    optax.scale_by_learning_rate(learning_rate),
  )

"""ZO-AdaMU: SPSA whose perturbation is adapted by momentum and uncertainty."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import cast_like, require_zo_args


class ScaleByZOAdaMUState(NamedTuple):
  """State of `scale_by_zo_adamu`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # momentum of the gradient estimates
  nu: optax.Updates  # second moment of the gradient estimates (the uncertainty)


def scale_by_zo_adamu(
  *,
  eps: float = 1e-3,
  alpha: float = 0.5,
  b1: float = 0.9,
  b2: float = 0.99,
  warmup_steps: int = 0,
  delta: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""The ZO-AdaMU estimate; the incoming `updates` are ignored (no gradient needed).

  The momentum is put on the simulated perturbation rather than on the update. With
  $u_t \sim \mathcal N(0, I)$ regenerated from `key`, the momentum $m$ and uncertainty $v$
  of past estimates give a unit-scale mean direction $\bar m = \hat m / (\sqrt{\hat v} +
  \delta)$ (bias-corrected as in Adam; $\bar m = 0$ at the first step), and

  .. math::
    z_t = \alpha_t \bar m_{t-1} + \sqrt{1 - \alpha_t^2}\, u_t, \qquad
    \hat g_t = \frac{L(\theta + \epsilon z_t) - L(\theta - \epsilon z_t)}{2\epsilon}\, z_t,

  .. math::
    m_t = \beta_1 m_{t-1} + (1 - \beta_1) \hat g_t, \qquad
    v_t = \beta_2 v_{t-1} + (1 - \beta_2) \hat g_t^2 ,

  with $\alpha_t = 0$ for the first `warmup_steps` steps (plain MeZO) and $\alpha$ after.
  The direction is $\hat g_t$ (SGD on it: the adaptivity lives in the perturbation). With
  $\alpha_t > 0$ the perturbation has a nonzero mean, so $\hat g_t$ is no longer an unbiased
  estimate of the smoothed gradient: it leans towards the momentum direction, by design.

  This follows the paper's description (perturbation mean from momentum, variance from the
  uncertainty, annealed mixing); its exact schedule of $\alpha_t$ is simplified to a
  warm-up switch.

  Args:
    eps: $\epsilon$, the perturbation scale.
    alpha: $\alpha$, weight of the momentum direction in the perturbation, in [0, 1).
    b1: $\beta_1$, decay of the momentum, in [0, 1).
    b2: $\beta_2$, decay of the second moment, in [0, 1).
    warmup_steps: steps of pure Gaussian perturbations before the momentum is mixed in.
    delta: added to $\sqrt{\hat v}$.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Jiang et al., ZO-AdaMU Optimizer: Adapting Perturbation by the Momentum and Uncertainty
    in Zeroth-Order Optimization, AAAI 2024, https://arxiv.org/abs/2312.15184
  """
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  for name, value in (("alpha", alpha), ("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  if warmup_steps < 0:
    raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.float32), params)
    return ScaleByZOAdaMUState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_zo_adamu", value_fn, key)
    t = state.count.astype(jnp.float32)
    a = jnp.where((state.count >= warmup_steps) & (state.count > 0), alpha, 0.0)
    c1 = jnp.maximum(1.0 - b1**t, 1e-30)
    c2 = jnp.maximum(1.0 - b2**t, 1e-30)
    u = perturbation.sample(key, params, 1.0)
    z = jax.tree.map(
      lambda m, v, x: a * (m / c1) / (jnp.sqrt(v / c2) + delta) + jnp.sqrt(1.0 - a**2) * x,
      state.mu,
      state.nu,
      u,
    )
    eps_z = cast_like(perturbation.scale(z, eps), params)
    coef = perturbation.two_point_coefficient(
      value_fn(perturbation.shift(params, eps_z)),
      value_fn(perturbation.shift(params, eps_z, -1.0)),
      eps,
    )
    g = perturbation.scale(jax.tree.map(lambda e: e.astype(jnp.float32), eps_z), coef)
    mu = optax.tree.update_moment(g, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(g, state.nu, b2, 2)
    new_state = ScaleByZOAdaMUState(count=optax.safe_increment(state.count), mu=mu, nu=nu)
    return cast_like(g, params), new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def zo_adamu(
  learning_rate: optax.ScalarOrSchedule,
  *,
  eps: float = 1e-3,
  alpha: float = 0.5,
  b1: float = 0.9,
  b2: float = 0.99,
  warmup_steps: int = 0,
  weight_decay: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """ZO-AdaMU: SGD on the estimate of `scale_by_zo_adamu`, with decoupled weight decay.

  Example:
    >>> opt = zo_adamu(learning_rate=1e-6)
  """
  return optax.chain(
    scale_by_zo_adamu(eps=eps, alpha=alpha, b1=b1, b2=b2, warmup_steps=warmup_steps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

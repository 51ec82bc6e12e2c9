"""SWATS: start with Adam, switch to SGD with a learning rate estimated from Adam's steps."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleBySwatsState(NamedTuple):
  """State of `scale_by_swats`.

  Attributes:
    count: Adam steps taken (the bias corrections use it).
    mu: Adam's first moment (float32), reused as the SGD momentum buffer after the switch.
    nu: Adam's second moment (float32).
    gamma_ema: $\\lambda$, the EMA of the projected learning rates $\\gamma_k$.
    sgd_lr: $\\Lambda$, the SGD learning rate fixed at the switch.
    sgd_phase: whether the switch has happened.
  """

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  gamma_ema: jax.Array
  sgd_lr: jax.Array
  sgd_phase: jax.Array


def scale_by_swats(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-9,
) -> optax.GradientTransformation:
  r"""SWATS updates (learning rate included), over all parameters as one vector.

  Adam phase, step $k$ with $\alpha_k$ the learning rate:

  $$p_k = -\alpha_k \frac{\sqrt{1-\beta_2^k}}{1-\beta_1^k}\frac{m_k}{\sqrt{a_k}+\epsilon},
    \qquad \gamma_k = \frac{p_k^\top p_k}{-p_k^\top g_k},
    \qquad \lambda_k = \beta_2 \lambda_{k-1} + (1-\beta_2)\gamma_k$$

  (when $p_k^\top g_k \ne 0$);

  once $k > 1$ and $|\lambda_k/(1-\beta_2^k) - \gamma_k| < \epsilon$, switch for good to SGD
  with $\Lambda = \lambda_k/(1-\beta_2^k)$: $v \leftarrow \beta_1 v + g$, update
  $-(1-\beta_1)\Lambda v$ (the momentum buffer $v$ starts at zero).

  The projected step $\gamma_k$ is in parameter units, so the switch test needs the
  learning rate: this transform returns the final updates, not a direction.

  Args:
    learning_rate: $\alpha$ of the Adam phase (a schedule is evaluated at the Adam step).
    b1: $\beta_1$.
    b2: $\beta_2$.
    eps: $\epsilon$, in Adam's denominator and in the switch test (the paper uses one).

  Returns:
    An `optax.GradientTransformation` whose updates are added to the parameters.

  References:
    Keskar & Socher, Improving Generalization Performance by Switching from Adam to SGD,
    https://arxiv.org/abs/1712.07628
  """

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    z = jnp.zeros([], jnp.float32)
    return ScaleBySwatsState(
      jnp.zeros([], jnp.int32),
      jax.tree.map(zeros, params),
      jax.tree.map(zeros, params),
      z,
      z,
      jnp.zeros([], jnp.bool_),
    )

  def update_fn(updates, state, params=None):
    del params
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    count = optax.safe_increment(state.count)
    k = count.astype(jnp.float32)
    alpha = learning_rate(state.count) if callable(learning_rate) else learning_rate

    # Adam phase.
    mu_a = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g32)
    nu_a = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, g32)
    step = alpha * jnp.sqrt(1 - b2**k) / (1 - b1**k)
    p = jax.tree.map(lambda m, v: -step * m / (jnp.sqrt(v) + eps), mu_a, nu_a)
    pg = sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(g32), strict=True))
    pp = sum(jnp.vdot(a, a) for a in jax.tree.leaves(p))
    nonzero = pg != 0
    gamma = pp / jnp.where(nonzero, -pg, 1.0)
    ema = jnp.where(nonzero, b2 * state.gamma_ema + (1 - b2) * gamma, state.gamma_ema)
    ema_hat = ema / (1 - b2**k)
    switch = nonzero & (count > 1) & (jnp.abs(ema_hat - gamma) < eps)

    # SGD phase (the momentum buffer restarts from zero at the switch).
    mu_s = jax.tree.map(lambda m, g: b1 * m + g, state.mu, g32)
    sgd = jax.tree.map(lambda m: -(1 - b1) * state.sgd_lr * m, mu_s)

    phase = state.sgd_phase
    pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(phase, x, y), a, b)
    new_updates = jax.tree.map(lambda u, g: u.astype(g.dtype), pick(sgd, p), updates)
    mu = jax.tree.map(lambda m: jnp.where(switch, 0.0, m), mu_a)
    new_state = ScaleBySwatsState(
      count=jnp.where(phase, state.count, count),
      mu=pick(mu_s, mu),
      nu=pick(state.nu, nu_a),
      gamma_ema=jnp.where(phase, state.gamma_ema, ema),
      sgd_lr=jnp.where(phase, state.sgd_lr, jnp.where(switch, ema_hat, 0.0)),
      sgd_phase=phase | switch,
    )
    return new_updates, new_state

  return optax.GradientTransformation(init_fn, update_fn)


def swats(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-9,
) -> optax.GradientTransformation:
  """SWATS (see `scale_by_swats`; the learning rate is part of the switch test)."""
  return scale_by_swats(learning_rate, b1=b1, b2=b2, eps=eps)

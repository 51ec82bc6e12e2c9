"""Learning rate and momentum set on the fly from the Hessian spectrum (stochastic Lanczos)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import hessian


class ScaleBySlqMomentumState(NamedTuple):
  """State of `scale_by_slq_momentum`."""

  count: jax.Array  # int32 step count
  velocity: optax.Updates  # float32 heavy-ball buffer
  lr: jax.Array  # float32 learning rate from the last spectrum estimate
  momentum: jax.Array  # float32 momentum from the last spectrum estimate
  lam_max: jax.Array  # float32 estimated λ_max
  lam_min: jax.Array  # float32 estimated λ_min (floored)


def scale_by_slq_momentum(
  lanczos_iters: int = 10,
  update_interval: jax.typing.ArrayLike = 100,
  min_ratio: float = 1e-3,
) -> optax.GradientTransformationExtraArgs:
  r"""Heavy ball with α, μ set from Lanczos estimates of the Hessian's spectrum edges.

  Every `update_interval` steps (a `lax.cond`; first at step 0), `lanczos_iters` Lanczos
  steps on the sub-sampled Hessian (HVPs of `value_fn`, Rademacher start from `key`) give
  the Ritz values; the extreme ones estimate λ_max and λ_min (floored at
  `min_ratio`·λ_max, since the loss Hessian of a network is not positive definite). They
  set the learning rate and momentum as for a quadratic with that spectrum (Polyak's
  optimal heavy ball):

  .. math::
    α = \frac{4}{(\sqrt{λ_{\max}} + \sqrt{λ_{\min}})^2},\qquad
    μ = \Big(\frac{\sqrt{λ_{\max}} - \sqrt{λ_{\min}}}{\sqrt{λ_{\max}} + \sqrt{λ_{\min}}}\Big)^2,
    \qquad v_t = μ v_{t-1} + α g_t,

  and the direction is v_t (the alias multiplies it by `learning_rate`, 1 by default).
  The paper uses the spectrum from stochastic Lanczos quadrature to set the learning rate
  and momentum during training; the closed forms above are the standard ones for the
  spectrum edges.

  Args:
    lanczos_iters: Lanczos steps (HVPs) per spectrum estimate.
    update_interval: steps between estimates (may be a traced array).
    min_ratio: floor of λ_min / λ_max.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Granziol, Zohren & Roberts, Learning Rates as a Function of Batch Size: A Random Matrix
    Theory Approach to Neural Network Training, https://arxiv.org/abs/2006.09092;
    Polyak, Some methods of speeding up the convergence of iteration methods (1964).
  """
  if lanczos_iters < 2:
    raise ValueError(f"lanczos_iters must be an integer >= 2, got {lanczos_iters}.")
  if isinstance(update_interval, int) and update_interval < 1:
    raise ValueError(f"update_interval must be an integer >= 1, got {update_interval}.")
  if not 0 < min_ratio < 1:
    raise ValueError(f"min_ratio must be in (0, 1), got {min_ratio}.")

  def init_fn(params):
    zero = jnp.zeros((), jnp.float32)
    return ScaleBySlqMomentumState(
      count=jnp.zeros((), jnp.int32),
      velocity=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
      lr=zero,
      momentum=zero,
      lam_max=zero,
      lam_min=zero,
    )

  def estimate(params, value_fn, key):
    matvec, flat = hessian.flat_hvp(value_fn, params)
    v0 = jax.random.rademacher(key, flat.shape, jnp.float32)
    ritz, _ = hessian.lanczos_eigh(matvec, v0, lanczos_iters)
    lam_max = jnp.maximum(jnp.max(ritz), 1e-12)
    lam_min = jnp.clip(jnp.min(ritz), min_ratio * lam_max, lam_max)
    a, b = jnp.sqrt(lam_max), jnp.sqrt(lam_min)
    return 4.0 / (a + b) ** 2, ((a - b) / (a + b)) ** 2, lam_max, lam_min

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("slq_momentum needs `params` and the extra args `value_fn` and `key`.")
    lr, mom, lam_max, lam_min = jax.lax.cond(
      state.count % update_interval == 0,
      lambda: estimate(params, value_fn, key),
      lambda: (state.lr, state.momentum, state.lam_max, state.lam_min),
    )
    velocity = jax.tree.map(
      lambda v, g: mom * v + lr * g.astype(jnp.float32), state.velocity, updates
    )
    out = jax.tree.map(lambda v, g: v.astype(g.dtype), velocity, updates)
    new_state = ScaleBySlqMomentumState(
      count=optax.safe_increment(state.count),
      velocity=velocity,
      lr=lr,
      momentum=mom,
      lam_max=lam_max,
      lam_min=lam_min,
    )
    return out, new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def slq_momentum(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  lanczos_iters: int = 10,
  update_interval: jax.typing.ArrayLike = 100,
  min_ratio: float = 1e-3,
) -> optax.GradientTransformationExtraArgs:
  """Heavy ball with spectrum-set α and μ, scaled by `learning_rate` (see
  `scale_by_slq_momentum`).

  Args:
    learning_rate: multiplier of the spectrum-set step (1: as estimated).
    lanczos_iters, update_interval, min_ratio: see `scale_by_slq_momentum`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Granziol, Zohren & Roberts, Learning Rates as a Function of Batch Size: A Random Matrix
    Theory Approach to Neural Network Training, https://arxiv.org/abs/2006.09092
  """
  return optax.chain(
    scale_by_slq_momentum(
      lanczos_iters=lanczos_iters, update_interval=update_interval, min_ratio=min_ratio
    ),
    optax.scale_by_learning_rate(learning_rate),
  )

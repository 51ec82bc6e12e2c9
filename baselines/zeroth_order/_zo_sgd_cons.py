"""ZO-SGD-Cons: the conservative zeroth-order step of ZO-Bench."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import cast_like, check_distribution, require_zo_args


class ScaleByZOSGDConsState(NamedTuple):
  """State of `scale_by_zo_sgd_cons`."""

  count: jax.Array  # int32 step counter (for a learning-rate schedule)


def scale_by_zo_sgd_cons(
  learning_rate: optax.ScalarOrSchedule,
  *,
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""The conservative ZO direction; the incoming `updates` are ignored (no gradient needed).

  With the SPSA estimate $\hat g$ of `scale_by_mezo` (2 forward passes) and the step size
  $\eta_t$, three more forward passes pick the best of "no step", "step" and "step back":

  .. math::
    d_t = \mathop{\arg\min}_{d \in \{0,\ \hat g,\ -\hat g\}} L(\theta - \eta_t d),

  ties going to the earlier candidate. Multiplied by $-\eta_t$ (`optax.scale_by_learning_rate`
  with the same `learning_rate`) it gives the update, so the loss on the current batch never
  increases.

  Args:
    learning_rate: $\eta_t$, the step size the candidates are evaluated at (scalar or
      schedule); the alias `zo_sgd_cons` applies the same one.
    eps: perturbation scale of the SPSA estimate.
    distribution: `gaussian` or `rademacher`.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Zhang et al., Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning:
    A Benchmark, https://arxiv.org/abs/2402.11592 (ZO-SGD-Cons, after Kim et al.,
    Curvature-Aware Derivative-Free Optimization)
  """
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  check_distribution(distribution)

  def init_fn(params):
    del params
    return ScaleByZOSGDConsState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_zo_sgd_cons", value_fn, key)
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    g = perturbation.two_point_estimate(value_fn, params, key, eps, distribution)
    step = jax.tree.map(lambda x, p: (lr * x).astype(p.dtype), g, params)
    losses = jnp.stack(
      [
        value_fn(params),
        value_fn(perturbation.shift(params, step, -1.0)),
        value_fn(perturbation.shift(params, step, 1.0)),
      ]
    )
    sign = jnp.asarray([0.0, 1.0, -1.0])[jnp.argmin(losses)]
    direction = cast_like(perturbation.scale(g, sign), params)
    return direction, ScaleByZOSGDConsState(count=optax.safe_increment(state.count))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def zo_sgd_cons(
  learning_rate: optax.ScalarOrSchedule,
  *,
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  """ZO-SGD-Cons: see `scale_by_zo_sgd_cons`.

  Example:
    >>> opt = zo_sgd_cons(learning_rate=1e-6)
  """
  return optax.chain(
    scale_by_zo_sgd_cons(learning_rate, eps=eps, distribution=distribution),
    optax.scale_by_learning_rate(learning_rate),
  )

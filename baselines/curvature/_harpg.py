"""N-PG-IGT and (N-)HARPG: normalized momentum with implicit gradient transport or a
Hessian-aided correction, written for minimizing a loss."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import hessian

Correction = Literal["igt", "hessian"]
_CORRECTIONS = ("igt", "hessian")


class ScaleByHarpgState(NamedTuple):
  """State of `scale_by_harpg`."""

  count: jax.Array  # int32 step count
  direction: optax.Updates  # float32 d_{t-1}
  prev_params: optax.Params  # float32 θ_{t-1}


def _global_norm(tree) -> jax.Array:
  return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def scale_by_harpg(
  correction: Correction = "hessian",
  momentum_power: float = 1.0,
  normalize: bool = True,
) -> optax.GradientTransformationExtraArgs:
  r"""The N-PG-IGT / (N-)HARPG direction (positive sign; negate to descend).

  With η_t = (t + 1)^{-p} (p = `momentum_power`; η_0 = 1, so d_0 = ∇f(θ_0)):

  - `correction="igt"` (N-PG-IGT, implicit gradient transport): the gradient is taken at
    the extrapolated point θ̃_t = θ_t + (1 - η_t)/η_t · (θ_t - θ_{t-1}) through `value_fn`,
    d_t = (1 - η_t) d_{t-1} + η_t ∇f(θ̃_t);
  - `correction="hessian"` (HARPG): with q_t ~ U(0, 1) from `key` and
    θ̂_t = q_t θ_t + (1 - q_t) θ_{t-1},
    d_t = (1 - η_t)(d_{t-1} + ∇²f(θ̂_t)(θ_t - θ_{t-1})) + η_t g_t,
    the Hessian-vector product taken through `value_fn`.

  The step is d_t / ‖d_t‖ (global norm) when `normalize` (N-PG-IGT, N-HARPG), d_t otherwise
  (HARPG). The paper ascends an RL return J; here the same recursions descend a loss f
  (the stochastic policy-gradient and Hessian estimators are replaced by the gradient and
  HVP of the batch loss). Its analysis uses decaying η_t and step sizes γ_t; pass a
  schedule as `learning_rate` for γ_t.

  Args:
    correction: "igt" or "hessian".
    momentum_power: p > 0 in η_t = (t + 1)^{-p}.
    normalize: divide d_t by its global norm.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and `value_fn`
    (and `key` for "hessian").

  References:
    Fatkhullin, Barakat, Kireeva & He, Stochastic Policy Gradient Methods: Improved Sample
    Complexity for Fisher-non-degenerate Policies, https://arxiv.org/abs/2302.01734
  """
  if correction not in _CORRECTIONS:
    raise ValueError(f"correction must be one of {_CORRECTIONS}, got {correction!r}.")
  if momentum_power <= 0:
    raise ValueError(f"momentum_power must be > 0, got {momentum_power}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByHarpgState(
      count=jnp.zeros((), jnp.int32),
      direction=jax.tree.map(zeros, params),
      prev_params=jax.tree.map(lambda p: p.astype(jnp.float32), params),
    )

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or (correction == "hessian" and key is None):
      needs = "`value_fn` and `key`" if correction == "hessian" else "`value_fn`"
      raise ValueError(f"harpg ({correction}) needs `params` and the extra args {needs}.")
    eta = (state.count.astype(jnp.float32) + 1.0) ** (-momentum_power)
    theta = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    diff = jax.tree.map(jnp.subtract, theta, state.prev_params)
    if correction == "igt":
      shifted = jax.tree.map(
        lambda t, dd, p: (t + (1 - eta) / eta * dd).astype(p.dtype), theta, diff, params
      )
      grad = jax.grad(value_fn)(shifted)
      direction = jax.tree.map(
        lambda d, g: (1 - eta) * d + eta * g.astype(jnp.float32), state.direction, grad
      )
    else:
      q = jax.random.uniform(key, (), jnp.float32)
      point = jax.tree.map(
        lambda t, pp, p: (q * t + (1 - q) * pp).astype(p.dtype), theta, state.prev_params, params
      )
      tangent = jax.tree.map(lambda dd, p: dd.astype(p.dtype), diff, params)
      hv = hessian.hvp(value_fn, point, tangent)
      direction = jax.tree.map(
        lambda d, h, g: (1 - eta) * (d + h.astype(jnp.float32)) + eta * g.astype(jnp.float32),
        state.direction,
        hv,
        updates,
      )
    step = direction
    if normalize:
      norm = _global_norm(direction)
      step = jax.tree.map(lambda d: d / jnp.where(norm > 0, norm, 1.0), direction)
    out = jax.tree.map(lambda s, u: s.astype(u.dtype), step, updates)
    new_state = ScaleByHarpgState(
      count=optax.safe_increment(state.count), direction=direction, prev_params=theta
    )
    return out, new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def n_pg_igt(
  learning_rate: optax.ScalarOrSchedule = 0.01,
  momentum_power: float = 0.8,
) -> optax.GradientTransformationExtraArgs:
  """N-PG-IGT: θ ← θ − γ d_t/‖d_t‖ with implicit gradient transport (see `scale_by_harpg`).

  Args:
    learning_rate: γ (a schedule for the paper's decaying γ_t).
    momentum_power: p in η_t = (t + 1)^{-p}.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and `value_fn`.

  References:
    Fatkhullin et al., Stochastic Policy Gradient Methods: Improved Sample Complexity for
    Fisher-non-degenerate Policies, https://arxiv.org/abs/2302.01734
  """
  return optax.chain(
    scale_by_harpg(correction="igt", momentum_power=momentum_power, normalize=True),
    optax.scale_by_learning_rate(learning_rate),
  )


def harpg(
  learning_rate: optax.ScalarOrSchedule = 0.01,
  momentum_power: float = 1.0,
  normalize: bool = True,
) -> optax.GradientTransformationExtraArgs:
  """(N-)HARPG: θ ← θ − γ d_t(/‖d_t‖) with a Hessian-aided correction (`scale_by_harpg`).

  Args:
    learning_rate: γ (a schedule for the paper's decaying γ_t).
    momentum_power: p in η_t = (t + 1)^{-p}.
    normalize: N-HARPG (True) or HARPG (False).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Fatkhullin et al., Stochastic Policy Gradient Methods: Improved Sample Complexity for
    Fisher-non-degenerate Policies, https://arxiv.org/abs/2302.01734
  """
  return optax.chain(
    scale_by_harpg(correction="hessian", momentum_power=momentum_power, normalize=normalize),
    optax.scale_by_learning_rate(learning_rate),
  )

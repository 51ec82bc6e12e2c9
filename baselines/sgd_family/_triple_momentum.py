"""Triple momentum method (Van Scoy, Freeman & Lynch, 2018)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByTripleMomentumState(NamedTuple):
  """State of `scale_by_triple_momentum`."""

  count: jax.Array  # int32 step counter
  trace: optax.Updates  # e_k = (ξ_{k-1} - ξ_k) / η, in gradient units


def triple_momentum_coefficients(kappa: float) -> tuple[float, float, float, float]:
  """(ρ, β, γ, δ) of the triple momentum method for condition number `kappa` = L/μ."""
  if not kappa >= 1.0:
    raise ValueError(f"kappa (the condition number L/mu) must be >= 1, got {kappa}.")
  rho = 1.0 - 1.0 / kappa**0.5
  beta = rho**2 / (2.0 - rho)
  gamma = rho**2 / ((1.0 + rho) * (2.0 - rho))
  delta = rho**2 / (1.0 - rho**2)
  return rho, beta, gamma, delta


def scale_by_triple_momentum(*, kappa: float = 100.0) -> optax.GradientTransformation:
  r"""The direction of the triple momentum method.

  The method (with step `η = 1/L`, `ρ = 1 - 1/√κ`) iterates

  .. math::
    ξ_{k+1} = (1+β) ξ_k - β ξ_{k-1} - α ∇f(y_k), \quad
    y_k = (1+γ) ξ_k - γ ξ_{k-1}, \quad x_k = (1+δ) ξ_k - δ ξ_{k-1},

  with `α = (1+ρ)η`, `β = ρ²/(2-ρ)`, `γ = ρ²/((1+ρ)(2-ρ))`, `δ = ρ²/(1-ρ²)`. The parameters
  hold `y_k`, the point where the gradient is taken (`x_k` is the sequence the theory bounds;
  it is a fixed linear combination of the same iterates). Writing `e_k = (ξ_{k-1} - ξ_k)/η`:

  .. math::
    e_{k+1} = β e_k + (1+ρ) g_k, \qquad y_{k+1} - y_k = -η ((1+γ) e_{k+1} - γ e_k),

  and this transform returns `u_k = (1+γ) e_{k+1} - γ e_k` (the learning rate `η` is applied
  by `scale_by_learning_rate`). With a constant learning rate this is the paper's method
  exactly, starting from `ξ_{-1} = ξ_0 = y_0`.

  Args:
    kappa: condition number `L/μ` the coefficients are tuned for (>= 1; 1 gives plain GD
      with step `η`).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Van Scoy, Freeman & Lynch, The Fastest Known Globally Convergent First-Order Method for
    Minimizing Strongly Convex Functions, IEEE Control Systems Letters 2(1), 2018,
    https://doi.org/10.1109/LCSYS.2017.2722406
  """
  rho, beta, gamma, _ = triple_momentum_coefficients(kappa)

  def init_fn(params):
    return ScaleByTripleMomentumState(
      count=jnp.zeros([], jnp.int32), trace=jax.tree.map(jnp.zeros_like, params)
    )

  def update_fn(updates, state, params=None):
    del params
    new_trace = jax.tree.map(lambda e, g: beta * e + (1.0 + rho) * g, state.trace, updates)
    direction = jax.tree.map(
      lambda new, old, g: ((1.0 + gamma) * new - gamma * old).astype(g.dtype),
      new_trace,
      state.trace,
      updates,
    )
    new_trace = jax.tree.map(lambda e, g: e.astype(g.dtype), new_trace, updates)
    return direction, ScaleByTripleMomentumState(
      count=optax.safe_increment(state.count), trace=new_trace
    )

  return optax.GradientTransformation(init_fn, update_fn)


def triple_momentum(
  learning_rate: optax.ScalarOrSchedule, *, kappa: float = 100.0
) -> optax.GradientTransformation:
  """Triple momentum method; `learning_rate` is `1/L`. See `scale_by_triple_momentum`.

  Example:
    >>> opt = triple_momentum(learning_rate=0.5, kappa=4.0)
  """
  return optax.chain(
    scale_by_triple_momentum(kappa=kappa), optax.scale_by_learning_rate(learning_rate)
  )

"""EGN: the regularized Gauss–Newton direction solved in output (batch) space."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from baselines import linalg
from baselines.curvature import gauss_newton


class ScaleByEgnState(NamedTuple):
  count: jax.Array
  velocity: optax.Updates  # the momentum of the directions; () when momentum = 0


def egn_direction(lin: gauss_newton.Linearized, damping: float | jax.Array) -> jax.Array:
  """(Jᵀ H J + λI)⁻¹ Jᵀ e (flat, d), by the Duncan–Guttman identity in output space:

    (Jᵀ H J + λ I_d)⁻¹ Jᵀ e = Jᵀ (H J Jᵀ + λ I_m)⁻¹ e,

  (multiply both sides by Jᵀ H J + λI: Jᵀ (H J Jᵀ + λI) u = (Jᵀ H J + λI) Jᵀ u), so the solve
  is m × m (m = batch × outputs per example) instead of d × d. For a mean loss over b examples
  H = Q / b and e = r / b, which is the paper's Jᵀ (Q J Jᵀ + b λ I)⁻¹ r.
  """
  jac = gauss_newton.jacobian(lin)
  hess = gauss_newton.output_hessian(lin)
  m = jac.shape[0]
  system = hess @ (jac @ jac.T) + damping * jnp.eye(m, dtype=jnp.float32)
  return jac.T @ linalg.solve(system, lin.grad_out)


def scale_by_egn(
  damping: float = 1.0, momentum: float = 0.0
) -> optax.GradientTransformationExtraArgs:
  r"""The EGN direction (positive sign; negate to descend).

  .. math::
    d_t = J^\top (H J J^\top + \lambda I)^{-1} e
        = (J^\top H J + \lambda I)^{-1} \nabla L(\theta_t),
    \qquad u_t = \frac{\mu\, v_{t-1} + (1-\mu)\, d_t}{1 - \mu^t}\ (v_t = \mu v_{t-1} + (1-\mu) d_t),

  with J the Jacobian of `output_fn` at θ_t (materialized by m vector-Jacobian products), H
  the Hessian of `loss_of_outputs` at the outputs (m Hessian-vector products of the cheap
  loss) and e its gradient (`egn_direction`). The gradient passed to `update` is not used:
  the direction's gradient is Jᵀ e on the same batch (equal for the same loss). Momentum is
  the authors' bias-corrected average of directions (μ = 0: none, the paper's Algorithm 1).

  The m × m solve costs O(m³) with m = outputs per batch (batch × classes): the method is
  meant for m much smaller than the parameter count d.

  Args:
    damping: λ > 0, the Levenberg–Marquardt regularization of the GGN.
    momentum: μ in [0, 1).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `output_fn` and
    `loss_of_outputs`.

  References:
    Korbit, Adeoye, Bemporad & Zanon, Exact Gauss-Newton Optimization for Training Deep
    Neural Networks, https://arxiv.org/abs/2405.14402
  """
  if damping <= 0:
    raise ValueError(f"damping must be > 0, got {damping}.")
  if not 0.0 <= momentum < 1.0:
    raise ValueError(f"momentum must be in [0, 1), got {momentum}.")

  def init_fn(params):
    velocity = jax.tree.map(lambda p: jnp.zeros_like(p, jnp.float32), params) if momentum else ()
    return ScaleByEgnState(count=jnp.zeros([], jnp.int32), velocity=velocity)

  def update_fn(updates, state, params=None, *, output_fn=None, loss_of_outputs=None, **extra):
    del extra
    gauss_newton.check_args("egn", params, output_fn, loss_of_outputs)
    lin = gauss_newton.linearize(output_fn, loss_of_outputs, params)
    direction = egn_direction(lin, damping)
    count = optax.safe_increment(state.count)
    velocity = state.velocity
    if momentum:
      flat, unravel = ravel_pytree(state.velocity)
      flat = momentum * flat + (1.0 - momentum) * direction
      direction = flat / (1.0 - momentum ** count.astype(jnp.float32))
      velocity = unravel(flat)
    out = jax.tree.map(lambda o, u: o.astype(u.dtype), lin.unravel(direction), updates)
    return out, ScaleByEgnState(count=count, velocity=velocity)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def egn(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  damping: float = 1.0,
  momentum: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """EGN: θ ← θ − α (Jᵀ H J + λI)⁻¹ ∇L, solved in output space (`scale_by_egn`).

  Args:
    learning_rate: α (the paper's step size; its line search is not part of this rule).
    damping, momentum: see `scale_by_egn`.

  References:
    Korbit, Adeoye, Bemporad & Zanon, Exact Gauss-Newton Optimization for Training Deep
    Neural Networks, https://arxiv.org/abs/2405.14402
  """
  return optax.chain(
    scale_by_egn(damping=damping, momentum=momentum),
    optax.scale_by_learning_rate(learning_rate),
  )

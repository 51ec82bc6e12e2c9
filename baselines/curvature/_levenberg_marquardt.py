"""Levenberg–Marquardt: damped Gauss–Newton steps with an adaptive damping λ."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import gauss_newton, hessian

DampingKind = Literal["marquardt", "levenberg"]
_LAMBDA_RANGE = (1e-10, 1e10)


class LevenbergMarquardtState(NamedTuple):
  count: jax.Array
  damping: jax.Array  # λ
  nu: jax.Array  # Nielsen's growth factor of λ after a rejected step


def levenberg_marquardt_step(
  lin: gauss_newton.Linearized,
  damping: jax.Array,
  kind: DampingKind,
  cg_iters: int,
) -> jax.Array:
  """δ solving (G + λ D) δ = g (flat, d) by Jacobi-preconditioned CG.

  G = Jᵀ H J, g = Jᵀ e, D = diag(G) (`"marquardt"`, exact, from the materialized J; entries
  below 1e-6 max(D) raised to it so a parameter the batch does not move stays damped) or I
  (`"levenberg"`). CG runs on the scaled system (D^{-1/2} G D^{-1/2} + λI) y = D^{-1/2} g,
  δ = D^{-1/2} y: Jacobi preconditioning, as in 3DGS-LM's PCG.
  """
  grad = lin.vjp(lin.grad_out)
  if kind == "marquardt":
    diag = gauss_newton.ggn_diagonal(lin)
    top = jnp.max(diag)
    diag = jnp.where(top > 0, jnp.maximum(diag, 1e-6 * top), 1.0)
  else:
    diag = jnp.ones_like(grad)
  scale = jax.lax.rsqrt(diag)
  matvec = gauss_newton.ggn_matvec(lin)
  y = hessian.conjugate_gradient(
    lambda v: scale * matvec(scale * v), scale * grad, cg_iters, damping
  )
  return scale * y


def levenberg_marquardt(
  damping: float = 1e-3,
  damping_kind: DampingKind = "marquardt",
  cg_iters: int = 20,
) -> optax.GradientTransformationExtraArgs:
  r"""Levenberg–Marquardt on the batch loss L(θ) = ℓ(f(θ)), with Nielsen's λ adaptation.

  .. math::
    (J^\top H J + \lambda_t D)\,\delta_t = J^\top e,\qquad
    \rho_t = \frac{L(\theta_t) - L(\theta_t - \delta_t)}
                  {g^\top\delta_t - \tfrac12 \delta_t^\top J^\top H J\, \delta_t},

  with J the Jacobian of `output_fn`, H and e the Hessian and gradient of `loss_of_outputs`
  (for least squares ℓ = ½‖r‖²: H = I, the classical (JᵀJ + λ D) δ = Jᵀ r), D = diag(JᵀHJ)
  (Marquardt) or I (Levenberg), solved by `cg_iters` steps of Jacobi-preconditioned CG
  (`levenberg_marquardt_step`). The step is taken when the gain ratio ρ_t > 0 (the loss on the
  batch went down), and then λ ← λ · max(1/3, 1 − (2ρ − 1)³), ν ← 2; otherwise the update is
  zero and λ ← λ ν, ν ← 2ν (Nielsen 1999; Madsen, Nielsen & Tingleff, Methods for Non-Linear
  Least Squares Problems, 2004, Alg. 3.16). λ stays in [1e-10, 1e10].

  λ → 0 gives the Gauss–Newton step G⁻¹ g; λ → ∞ the scaled gradient step D⁻¹ g / λ. The
  rule sets its own step, so it has no learning rate. Marquardt's D needs J materialized (m
  vector-Jacobian products, m = outputs per batch); Levenberg's is matrix-free.

  Args:
    damping: λ_0 > 0, the initial damping.
    damping_kind: `"marquardt"` (D = diag(JᵀHJ)) or `"levenberg"` (D = I).
    cg_iters: CG steps per update.

  Returns:
    An `optax.GradientTransformationExtraArgs` whose updates are the steps themselves;
    `update` needs `params`, `output_fn` and `loss_of_outputs` (one extra evaluation of both
    at θ − δ for the gain ratio).

  References:
    Levenberg, A method for the solution of certain non-linear problems in least squares
    (1944); Marquardt, An algorithm for least-squares estimation of nonlinear parameters
    (1963); Höllein et al., 3DGS-LM: Faster Gaussian-Splatting Optimization with
    Levenberg-Marquardt, https://arxiv.org/abs/2409.12892
  """
  if damping <= 0:
    raise ValueError(f"damping must be > 0, got {damping}.")
  if damping_kind not in ("marquardt", "levenberg"):
    raise ValueError(f"damping_kind must be 'marquardt' or 'levenberg', got {damping_kind!r}.")
  if cg_iters < 1:
    raise ValueError(f"cg_iters must be an integer >= 1, got {cg_iters}.")

  def init_fn(params):
    del params
    return LevenbergMarquardtState(
      count=jnp.zeros([], jnp.int32),
      damping=jnp.asarray(damping, jnp.float32),
      nu=jnp.asarray(2.0, jnp.float32),
    )

  def update_fn(updates, state, params=None, *, output_fn=None, loss_of_outputs=None, **extra):
    del extra
    gauss_newton.check_args("levenberg_marquardt", params, output_fn, loss_of_outputs)
    lin = gauss_newton.linearize(output_fn, loss_of_outputs, params)
    delta = levenberg_marquardt_step(lin, state.damping, damping_kind, cg_iters)
    grad = lin.vjp(lin.grad_out)
    predicted = jnp.vdot(grad, delta) - 0.5 * jnp.vdot(delta, gauss_newton.ggn_matvec(lin)(delta))
    trial = lin.loss_at(lin.params - delta)
    rho = (lin.loss - trial) / jnp.where(predicted > 0, predicted, 1.0)
    accept = (predicted > 0) & (rho > 0) & jnp.isfinite(trial)
    lam_accept = state.damping * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
    lam = jnp.clip(jnp.where(accept, lam_accept, state.damping * state.nu), *_LAMBDA_RANGE)
    nu = jnp.where(accept, 2.0, jnp.minimum(2.0 * state.nu, 1e10))
    step = jnp.where(accept, -delta, 0.0)
    out = jax.tree.map(lambda o, u: o.astype(u.dtype), lin.unravel(step), updates)
    return out, LevenbergMarquardtState(optax.safe_increment(state.count), lam, nu)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)

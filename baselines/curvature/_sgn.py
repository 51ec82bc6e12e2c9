"""SGN: the damped Gauss–Newton system solved by conjugate gradients on each batch."""

from __future__ import annotations

import jax
import optax

from baselines.curvature import gauss_newton, hessian


def scale_by_sgn(
  damping: float = 1e-3, cg_iters: int = 10
) -> optax.GradientTransformationExtraArgs:
  r"""The stochastic Gauss–Newton direction (positive sign; negate to descend).

  .. math::
    u_t \approx (J^\top H J + \lambda I)^{-1} J^\top e

  on the current batch, by `cg_iters` steps of conjugate gradients from 0 whose products
  v ↦ Jᵀ H J v + λ v are one forward-mode JVP of `output_fn`, one Hessian-vector product of
  `loss_of_outputs` and one reverse-mode VJP (`baselines.curvature.gauss_newton`); no matrix
  is formed. With d CG steps (and exact arithmetic) it is the damped Gauss–Newton step; fewer
  steps give the truncated (Hessian-free) step the paper uses. The gradient passed to
  `update` is not used: the system's right-hand side is Jᵀ e on the same batch.

  Args:
    damping: λ ≥ 0, the Tikhonov damping of the Gauss–Newton matrix.
    cg_iters: CG steps per update (each one JVP + loss-HVP + VJP).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `output_fn` and
    `loss_of_outputs`.

  References:
    Gargiani, Zanelli, Diehl & Hutter, On the Promise of the Stochastic Generalized
    Gauss-Newton Method for Training DNNs, https://arxiv.org/abs/2006.02409 (the SGN
    baseline of Korbit et al., https://arxiv.org/abs/2405.14402)
  """
  if damping < 0:
    raise ValueError(f"damping must be >= 0, got {damping}.")
  if cg_iters < 1:
    raise ValueError(f"cg_iters must be an integer >= 1, got {cg_iters}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, output_fn=None, loss_of_outputs=None, **extra):
    del extra
    gauss_newton.check_args("sgn", params, output_fn, loss_of_outputs)
    lin = gauss_newton.linearize(output_fn, loss_of_outputs, params)
    grad = lin.vjp(lin.grad_out)
    step = hessian.conjugate_gradient(gauss_newton.ggn_matvec(lin), grad, cg_iters, damping)
    return jax.tree.map(lambda o, u: o.astype(u.dtype), lin.unravel(step), updates), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sgn(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  damping: float = 1e-3,
  cg_iters: int = 10,
) -> optax.GradientTransformationExtraArgs:
  """SGN: θ ← θ − α (Jᵀ H J + λI)⁻¹ ∇L by truncated CG (`scale_by_sgn`); α = 1 in the paper.

  References:
    Gargiani, Zanelli, Diehl & Hutter, On the Promise of the Stochastic Generalized
    Gauss-Newton Method for Training DNNs, https://arxiv.org/abs/2006.02409
  """
  return optax.chain(
    scale_by_sgn(damping=damping, cg_iters=cg_iters),
    optax.scale_by_learning_rate(learning_rate),
  )

"""SSO: stochastic surrogate optimization, several parameter steps on a target-space surrogate."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import gauss_newton


def scale_by_sso(
  learning_rate: float | jax.Array = 0.1,
  target_step: float = 1.0,
  inner_steps: int = 10,
) -> optax.GradientTransformationExtraArgs:
  r"""The SSO update (the whole step, already negative: the inner steps set its length).

  One gradient in target space, at the outputs z_t = f(θ_t) of `output_fn` on the batch,
  defines the surrogate (majorization-minimization with a target-space step size η)

  .. math::
    \tilde L_t(\theta) = \langle \nabla\ell(z_t), f(\theta)\rangle
      + \frac{1}{2\eta B}\lVert f(\theta) - z_t\rVert^2
    = \frac{1}{2\eta B}\lVert f(\theta) - y_t\rVert^2 + \text{const},\quad
    y_t = z_t - \eta B\, \nabla\ell(z_t),

  (B = the leading, batch axis of the outputs, so η is a per-example step for a mean loss),
  which `inner_steps` gradient steps θ ← θ − α ∇L̃_t(θ), ∇L̃_t = J(θ)ᵀ[∇ℓ(z_t) + (f(θ) − z_t)
  / (ηB)], minimize; the update is θ_m − θ_t. Each inner step needs only `output_fn` and its
  VJP: ℓ (e.g. an expensive simulator or critic) is differentiated once per outer step. The
  first inner step is the gradient step −α ∇L(θ_t) (f(θ_t) = z_t), so `inner_steps=1` is SGD;
  for a linear model the inner steps converge to the least-squares projection of the target
  y_t onto the model's outputs. Kept: a fixed inner step α where the paper also uses an
  Armijo line search on the surrogate.

  Args:
    learning_rate: α > 0, the inner (parameter-space) step size.
    target_step: η > 0, the target-space step size.
    inner_steps: m ≥ 1, parameter steps per outer step.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `output_fn` (one
    array of outputs) and `loss_of_outputs`.

  References:
    Lavington, Vaswani, Babanezhad, Schmidt & Le Roux, Target-based Surrogates for
    Stochastic Optimization, https://arxiv.org/abs/2302.02607
  """
  if target_step <= 0:
    raise ValueError(f"target_step must be > 0, got {target_step}.")
  if inner_steps < 1:
    raise ValueError(f"inner_steps must be an integer >= 1, got {inner_steps}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, output_fn=None, loss_of_outputs=None, **extra):
    del extra
    gauss_newton.check_args("sso", params, output_fn, loss_of_outputs)
    f, x0, unravel = gauss_newton.flat_output_fn(output_fn, params)
    shape = jax.eval_shape(output_fn, params).shape  # the outputs are one array
    batch = shape[0] if shape else 1
    z0 = f(x0)
    grad_out = jax.grad(lambda z: loss_of_outputs(z.reshape(shape)).astype(jnp.float32))(z0)

    def inner(_, x):
      z, vjp = jax.vjp(f, x)
      return x - learning_rate * vjp(grad_out + (z - z0) / (target_step * batch))[0]

    x = jax.lax.fori_loop(0, inner_steps, inner, x0)
    out = jax.tree.map(lambda o, u: o.astype(u.dtype), unravel(x - x0), updates)
    return out, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sso(
  learning_rate: float | jax.Array = 0.1,
  target_step: float = 1.0,
  inner_steps: int = 10,
) -> optax.GradientTransformationExtraArgs:
  """SSO with SGD inner steps (`scale_by_sso`, which takes the whole step).

  References:
    Lavington et al., Target-based Surrogates for Stochastic Optimization,
    https://arxiv.org/abs/2302.02607
  """
  return scale_by_sso(learning_rate, target_step, inner_steps)

"""INNAprop: the inertial Newton (DIN) discretization with RMSprop-scaled gradients."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByInnapropState(NamedTuple):
  """State of `scale_by_innaprop`: the auxiliary variable psi and the second moment."""

  count: jax.Array
  psi: optax.Updates
  nu: optax.Updates


def scale_by_innaprop(
  learning_rate: optax.ScalarOrSchedule,
  alpha: float = 0.1,
  beta: float = 0.9,
  sigma: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.01,
) -> optax.GradientTransformation:
  r"""The INNAprop direction, such that :math:`\theta_{t+1} = \theta_t - \gamma_t d_t`.

  The step size :math:`\gamma` enters the discretized dynamics nonlinearly, so this transform
  takes it too; `innaprop` multiplies by it once more. With :math:`\psi_0 = (1-\alpha\beta)
  \theta_0` and :math:`\theta' = (1-\gamma\lambda)\theta_t`:

  .. math::
    v_{t+1} = \sigma v_t + (1-\sigma) g_t^2,\quad
    D = \sqrt{v_{t+1}/(1-\sigma^{t+1})} + \epsilon,\\
    \psi_{t+1} = (1-\tfrac{\gamma}{\beta})\psi_t + \gamma(\tfrac{1}{\beta}-\alpha)\theta',\\
    \theta_{t+1} = \theta' + \tfrac{\gamma(1-\alpha\beta)}{\beta-\gamma}\theta'
      - \tfrac{\gamma}{\beta-\gamma}\psi_{t+1} - \gamma\beta\,g_t/D,

  i.e. :math:`d_t = \lambda\theta_t - \frac{1-\alpha\beta}{\beta-\gamma}\theta'
  + \frac{\psi_{t+1}}{\beta-\gamma} + \beta g_t/D`.

  Args:
    learning_rate: the step size :math:`\gamma` (scalar or schedule), below `beta`.
    alpha: :math:`\alpha`, the viscous damping of the dynamics.
    beta: :math:`\beta`, the Newtonian (Hessian-driven) damping.
    sigma: decay of the second moment.
    eps: added to the RMS denominator.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformation`; `init` and `update` need `params`.

  References:
    Bolte et al., A second-order-like optimizer with adaptive gradient scaling for deep
    learning, https://arxiv.org/abs/2410.05871
  """
  if not 0.0 <= sigma < 1.0:
    raise ValueError(f"sigma must lie in [0, 1); got {sigma}.")
  if beta <= 0 or alpha < 0:
    raise ValueError(f"beta must be > 0 and alpha >= 0; got beta={beta}, alpha={alpha}.")
  if not callable(learning_rate) and not 0 < learning_rate < beta:
    raise ValueError(f"learning_rate must lie in (0, beta={beta}); got {learning_rate}.")
  schedule = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

  def init_fn(params):
    return ScaleByInnapropState(
      count=jnp.zeros([], jnp.int32),
      psi=jax.tree.map(lambda p: (1 - alpha * beta) * p, params),
      nu=jax.tree.map(jnp.zeros_like, params),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("INNAprop needs `params` in `update`.")
    lr = jnp.asarray(schedule(state.count), jnp.float32)
    count = state.count + 1
    nu = jax.tree.map(
      lambda v, g: (sigma * v + (1 - sigma) * g * g).astype(v.dtype), state.nu, updates
    )
    c2 = 1 - sigma ** count.astype(jnp.float32)

    def step(g, p, psi, v):
      g32, p32, psi32 = (a.astype(jnp.float32) for a in (g, p, psi))
      decayed = (1 - lr * weight_decay) * p32
      psi_new = (1 - lr / beta) * psi32 + lr * (1 / beta - alpha) * decayed
      denom = jnp.sqrt(v.astype(jnp.float32) / c2) + eps
      d = (
        weight_decay * p32
        - (1 - alpha * beta) / (beta - lr) * decayed
        + psi_new / (beta - lr)
        + beta * g32 / denom
      )
      return d.astype(g.dtype), psi_new.astype(psi.dtype)

    out = jax.tree.map(step, updates, params, state.psi, nu)
    treedef = jax.tree.structure(updates)
    leaves = treedef.flatten_up_to(out)
    direction = treedef.unflatten([d for d, _ in leaves])
    psi = treedef.unflatten([s for _, s in leaves])
    return direction, ScaleByInnapropState(count=count, psi=psi, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def innaprop(
  learning_rate: optax.ScalarOrSchedule,
  alpha: float = 0.1,
  beta: float = 0.9,
  sigma: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.01,
) -> optax.GradientTransformation:
  r"""INNAprop: :math:`\theta \leftarrow \theta - \gamma\,d_t` with `scale_by_innaprop`'s direction.

  Args:
    learning_rate: the step size :math:`\gamma` (scalar or schedule), below `beta`.
    alpha, beta, sigma, eps, weight_decay: see `scale_by_innaprop`.

  Returns:
    An `optax.GradientTransformation`; `init` and `update` need `params`.

  Example:
    >>> opt = innaprop(learning_rate=1e-3)

  References:
    Bolte et al., A second-order-like optimizer with adaptive gradient scaling for deep
    learning, https://arxiv.org/abs/2410.05871
  """
  return optax.chain(
    scale_by_innaprop(
      learning_rate, alpha=alpha, beta=beta, sigma=sigma, eps=eps, weight_decay=weight_decay
    ),
    optax.scale_by_learning_rate(learning_rate),
  )

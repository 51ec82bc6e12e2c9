"""Consensus-based optimization (CBO): particles drift towards a softmin-weighted consensus."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import require_zo_args


class ScaleByCBOState(NamedTuple):
  """State of `scale_by_cbo`."""

  count: jax.Array  # int32 step counter (for a schedule of dt)
  particles: optax.Params  # float32, leading axis of size num_particles


def scale_by_cbo(
  *,
  dt: optax.ScalarOrSchedule = 0.1,
  num_particles: int = 64,
  alpha: float = 100.0,
  lam: float = 1.0,
  sigma: float = 1.4,
  init_std: float = 1.0,
  seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
  r"""One step of anisotropic CBO; returns $\theta - v_t$ (negate it to move to $v_t$).

  The $N$ particles $x_i$ (in the state; initialized at $\theta_0 + $ `init_std`
  $\cdot \mathcal N(0, I)$ from `seed`) are evaluated with `value_fn` ($N$ forward passes);
  with $\xi_i \sim \mathcal N(0, I)$ from `key` (`perturbation.sample` on the stacked
  particles),

  .. math::
    v_t = \sum_i \frac{e^{-\alpha L(x_i)}}{\sum_j e^{-\alpha L(x_j)}}\, x_i, \qquad
    x_i \leftarrow x_i - \lambda\, dt\, (x_i - v_t)
      + \sigma \sqrt{dt}\, |x_i - v_t| \odot \xi_i ,

  and the parameters become the consensus point $v_t$. The weights are a softmin computed
  stably (shifted by $\min_i L(x_i)$).

  Args:
    dt: time step of the particle dynamics (scalar or schedule).
    num_particles: $N$ (forward passes per step).
    alpha: $\alpha$, inverse temperature of the softmin.
    lam: $\lambda$, drift towards the consensus.
    sigma: $\sigma$, scale of the anisotropic diffusion; close to $\sqrt{2\lambda}$ the
      particles keep exploring longer before they collapse on the consensus.
    init_std: spread of the initial particles around the initial parameters.
    seed: seed of the initial particles.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`; the
    incoming `updates` are ignored.

  References:
    Riedl, Klock, Geldhauser & Fornasier, Gradient is All You Need?,
    https://arxiv.org/abs/2306.09778; Carrillo et al., A consensus-based global
    optimization method for high dimensional machine learning problems,
    https://arxiv.org/abs/1909.09249
  """
  if num_particles < 1:
    raise ValueError(f"num_particles must be an integer >= 1, got {num_particles}.")
  for name, value in (("alpha", alpha), ("lam", lam), ("init_std", init_std)):
    if not value > 0:
      raise ValueError(f"{name} must be > 0, got {value}.")
  if sigma < 0:
    raise ValueError(f"sigma must be >= 0, got {sigma}.")

  def init_fn(params):
    p32 = jax.tree.map(
      lambda p: jnp.broadcast_to(p.astype(jnp.float32), (num_particles, *p.shape)), params
    )
    noise = perturbation.sample(jax.random.PRNGKey(seed), p32, init_std)
    return ScaleByCBOState(count=jnp.zeros([], jnp.int32), particles=perturbation.shift(p32, noise))

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_cbo", value_fn, key)
    h = dt(state.count) if callable(dt) else dt
    x = state.particles
    as_params = lambda xi: jax.tree.map(lambda a, p: a.astype(p.dtype), xi, params)
    f = jax.vmap(lambda xi: value_fn(as_params(xi)))(x).astype(jnp.float32)
    w = jax.nn.softmax(-alpha * (f - jnp.min(f)))
    v = jax.tree.map(lambda a: jnp.tensordot(w, a, axes=1), x)
    xi = perturbation.sample(key, x, 1.0)
    new_x = jax.tree.map(
      lambda a, c, n: a - lam * h * (a - c) + sigma * jnp.sqrt(h) * jnp.abs(a - c) * n, x, v, xi
    )
    direction = jax.tree.map(lambda p, c: (p.astype(jnp.float32) - c).astype(p.dtype), params, v)
    return direction, ScaleByCBOState(count=optax.safe_increment(state.count), particles=new_x)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def cbo(
  learning_rate: optax.ScalarOrSchedule = 0.1,
  *,
  num_particles: int = 64,
  alpha: float = 100.0,
  lam: float = 1.0,
  sigma: float = 1.4,
  init_std: float = 1.0,
  seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
  """CBO with `learning_rate` as the time step dt: the parameters become the consensus point.

  Example:
    >>> opt = cbo(learning_rate=0.1, num_particles=64)
  """
  return optax.chain(
    scale_by_cbo(
      dt=learning_rate,
      num_particles=num_particles,
      alpha=alpha,
      lam=lam,
      sigma=sigma,
      init_std=init_std,
      seed=seed,
    ),
    optax.scale(-1.0),
  )

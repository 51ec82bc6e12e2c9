"""Fully informed particle swarm (FIPS) with an Adam correction of the incumbent (Adam-FIPSO)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import require_zo_args

Topology = Literal["ring", "all"]
TOPOLOGIES: tuple[str, ...] = ("ring", "all")


class ScaleByFIPSOState(NamedTuple):
  """State of `scale_by_adam_fipso`."""

  count: jax.Array  # int32 step counter
  positions: optax.Params  # float32, leading axis num_particles
  velocities: optax.Params
  best: optax.Params  # personal best positions
  best_values: jax.Array  # (num_particles,) personal best losses (inf before the first step)
  mu: optax.Updates  # Adam first moment of the incumbent's gradients
  nu: optax.Updates  # Adam second moment


def neighbours(num_particles: int, topology: str) -> np.ndarray:
  """0/1 matrix A with A[i, k] = 1 when particle k informs particle i (itself included)."""
  if topology == "all":
    return np.ones((num_particles, num_particles))
  a = np.zeros((num_particles, num_particles))
  for i in range(num_particles):
    for k in (i - 1, i, i + 1):
      a[i, k % num_particles] = 1.0
  return a


def scale_by_adam_fipso(
  *,
  learning_rate: float = 0.01,
  num_particles: int = 20,
  chi: float = 0.7298,
  phi: float = 4.1,
  topology: Topology = "ring",
  init_std: float = 1.0,
  seed: int = 0,
  b1: float = 0.9,
  b2: float = 0.999,
  adam_eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""One Adam-FIPSO step; returns $\theta - \theta_{new}$ (negate it to get the update).

  The swarm (positions $x_i$, velocities $u_i$, personal bests $p_i$ with losses $f_i$)
  lives in the state, initialized at $\theta_0 + $ `init_std` $\cdot \mathcal N(0, I)$ from
  `seed`, zero velocity. Each step, with the gradient $g = \nabla L(\theta)$ (the incoming
  `updates`) at the current incumbent $\theta$:

  1. evaluate $L(x_i)$ ($N$ forward passes) and update the personal bests;
  2. Adam correction (skipped when `learning_rate` is 0): $\theta' = \theta - \eta\,
     \hat m / (\sqrt{\hat v} + \epsilon)$ with Adam's moments of $g$; if
     $L(\theta') < \min_i f_i$ it replaces the personal best of the best particle;
  3. fully informed velocities over the neighbourhoods $K_i$ (ring: $i-1, i, i+1$; or all),
     with $r_{ik} \sim U(0, \varphi / |K_i|)$ per coordinate from `key`:

  .. math::
    u_i \leftarrow \chi \Big(u_i + \sum_{k \in K_i} r_{ik} \odot (p_k - x_i)\Big), \qquad
    x_i \leftarrow x_i + u_i ;

  4. the new incumbent is the best personal best, $\theta_{new} = p_{\arg\min f}$.

  Args:
    learning_rate: $\eta$ of the Adam correction (0 gives plain FIPS).
    num_particles: $N$.
    chi: constriction coefficient $\chi$.
    phi: acceleration $\varphi$ (> 4 for Clerc's constriction).
    topology: `ring` or `all`.
    init_std: spread of the initial swarm.
    seed: seed of the initial swarm.
    b1, b2, adam_eps: Adam's hyperparameters.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing the gradient, `params`, `value_fn`
    and `key`.

  References:
    Adam assisted Fully informed Particle Swarm Optimization (Adam-FIPSO) based Parameter
    Prediction for the Quantum Approximate Optimization Algorithm (QAOA),
    https://arxiv.org/abs/2506.06790; Mendes, Kennedy & Neves, The fully informed particle
    swarm, IEEE TEC 2004.
  """
  if num_particles < 1:
    raise ValueError(f"num_particles must be an integer >= 1, got {num_particles}.")
  if topology not in TOPOLOGIES:
    raise ValueError(f"Unknown topology {topology!r}; expected one of {TOPOLOGIES}.")
  if learning_rate < 0:
    raise ValueError(f"learning_rate must be >= 0, got {learning_rate}.")
  a = jnp.asarray(neighbours(num_particles, topology), jnp.float32)
  width = phi / a.sum(1)  # U(0, phi / |K_i|)

  def init_fn(params):
    p32 = jax.tree.map(
      lambda p: jnp.broadcast_to(p.astype(jnp.float32), (num_particles, *p.shape)), params
    )
    x = perturbation.shift(p32, perturbation.sample(jax.random.PRNGKey(seed), p32, init_std))
    zeros = lambda t: jax.tree.map(jnp.zeros_like, t)
    moments = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    return ScaleByFIPSOState(
      count=jnp.zeros([], jnp.int32),
      positions=x,
      velocities=zeros(x),
      best=x,
      best_values=jnp.full((num_particles,), jnp.inf, jnp.float32),
      mu=moments,
      nu=jax.tree.map(jnp.zeros_like, moments),
    )

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    require_zo_args("scale_by_adam_fipso", value_fn, key)
    as_params = lambda t: jax.tree.map(lambda x, p: x.astype(p.dtype), t, params)
    x = state.positions
    f = jax.vmap(lambda xi: value_fn(as_params(xi)))(x).astype(jnp.float32)
    improved = f < state.best_values
    pick = lambda new, old: jax.tree.map(
      lambda n, o: jnp.where(improved.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), new, old
    )
    best, best_values = pick(x, state.best), jnp.where(improved, f, state.best_values)

    count = optax.safe_increment(state.count)
    g = jax.tree.map(lambda u: u.astype(jnp.float32), updates)
    mu = optax.tree.update_moment(g, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(g, state.nu, b2, 2)
    if learning_rate > 0:
      mu_hat = optax.tree.bias_correction(mu, b1, count)
      nu_hat = optax.tree.bias_correction(nu, b2, count)
      cand = jax.tree.map(
        lambda p, m, v: p.astype(jnp.float32) - learning_rate * m / (jnp.sqrt(v) + adam_eps),
        params,
        mu_hat,
        nu_hat,
      )
      f_cand = value_fn(as_params(cand)).astype(jnp.float32)
      gi = jnp.argmin(best_values)
      accept = f_cand < best_values[gi]
      best = jax.tree.map(lambda b, c: b.at[gi].set(jnp.where(accept, c, b[gi])), best, cand)
      best_values = best_values.at[gi].set(jnp.where(accept, f_cand, best_values[gi]))

    def velocity(u, xi, p, k):
      shape = (num_particles, num_particles, *xi.shape[1:])
      scale = width.reshape((-1, 1) + (1,) * (xi.ndim - 1))
      rik = jax.random.uniform(k, shape) * scale * a.reshape(a.shape + (1,) * (xi.ndim - 1))
      pull = jnp.sum(rik * (p[None] - xi[:, None]), axis=1)
      return chi * (u + pull)

    leaves_x, treedef = jax.tree.flatten(x)
    keys = jax.random.split(key, len(leaves_x))
    vel = treedef.unflatten(
      [
        velocity(u, xi, p, k)
        for u, xi, p, k in zip(
          treedef.flatten_up_to(state.velocities),
          leaves_x,
          treedef.flatten_up_to(best),
          keys,
          strict=True,
        )
      ]
    )
    new_x = jax.tree.map(jnp.add, x, vel)
    gi = jnp.argmin(best_values)
    incumbent = jax.tree.map(lambda b: b[gi], best)
    direction = jax.tree.map(
      lambda p, c: (p.astype(jnp.float32) - c).astype(p.dtype), params, incumbent
    )
    new_state = ScaleByFIPSOState(
      count=count,
      positions=new_x,
      velocities=vel,
      best=best,
      best_values=best_values,
      mu=mu,
      nu=nu,
    )
    return direction, new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def adam_fipso(
  learning_rate: float = 0.01,
  *,
  num_particles: int = 20,
  chi: float = 0.7298,
  phi: float = 4.1,
  topology: Topology = "ring",
  init_std: float = 1.0,
  seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
  """Adam-FIPSO: the parameters become the swarm's incumbent; see `scale_by_adam_fipso`.

  Example:
    >>> opt = adam_fipso(learning_rate=0.01, num_particles=20)
  """
  return optax.chain(
    scale_by_adam_fipso(
      learning_rate=learning_rate,
      num_particles=num_particles,
      chi=chi,
      phi=phi,
      topology=topology,
      init_std=init_std,
      seed=seed,
    ),
    optax.scale(-1.0),
  )

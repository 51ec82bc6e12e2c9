"""Gravity: a kinematics-inspired step with a bounded, gradient-scaled pull."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByGravityState(NamedTuple):
  """State of `scale_by_gravity`: the velocity."""

  count: jax.Array
  velocity: optax.Updates


def scale_by_gravity(
  beta: float = 0.9, init_std: float = 0.1, seed: int = 0
) -> optax.GradientTransformation:
  r"""The Gravity direction (the velocity :math:`v`).

  Per tensor, with :math:`M_t = \max_i |g_{t,i}|`:

  .. math::
    \zeta_t = \frac{g_t}{1 + (M_t\,g_t)^2},\quad
    \hat\beta_t = \frac{\beta t + 1}{t + 2},\quad
    v_t = \hat\beta_t v_{t-1} + (1-\hat\beta_t)\,\zeta_t,\quad d_t = v_t,

  with :math:`t = 0, 1, 2, \ldots` the number of earlier steps (the authors' Keras code reads
  `optimizer.iterations` before it is incremented, so the first step averages with
  :math:`\hat\beta_0 = 1/2`) and :math:`v_0 \sim \mathcal N(0, \sigma^2)`. The paper sets
  :math:`\sigma = \alpha/\eta`; `gravity` passes that. The draw uses a fixed `seed`, so `init`
  is deterministic and needs no key.

  Args:
    beta: the long-run decay of the velocity average.
    init_std: standard deviation :math:`\sigma` of the initial velocity.
    seed: seed of the initial velocity draw.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Bahrami & Zadeh, Gravity Optimizer: a Kinematic Approach on Optimization in Deep Learning,
    https://arxiv.org/abs/2101.09192
  """
  if not 0.0 <= beta < 1.0:
    raise ValueError(f"beta must lie in [0, 1); got {beta}.")
  if init_std < 0:
    raise ValueError(f"init_std must be >= 0; got {init_std}.")

  def init_fn(params):
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), max(len(leaves), 1))
    velocity = [
      (init_std * jax.random.normal(k, p.shape, jnp.float32)).astype(p.dtype)
      for k, p in zip(keys, leaves, strict=False)
    ]
    return ScaleByGravityState(
      count=jnp.zeros([], jnp.int32), velocity=jax.tree.unflatten(treedef, velocity)
    )

  def update_fn(updates, state, params=None):
    del params
    t = state.count.astype(jnp.float32)
    count = state.count + 1
    beta_t = (beta * t + 1.0) / (t + 2.0)

    def step(v, g):
      g32 = g.astype(jnp.float32)
      zeta = g32 / (1.0 + (jnp.max(jnp.abs(g32)) * g32) ** 2)
      return (beta_t * v.astype(jnp.float32) + (1.0 - beta_t) * zeta).astype(g.dtype)

    velocity = jax.tree.map(step, state.velocity, updates)
    return velocity, ScaleByGravityState(count=count, velocity=velocity)

  return optax.GradientTransformation(init_fn, update_fn)


def gravity(
  learning_rate: float = 0.1, alpha: float = 0.01, beta: float = 0.9, seed: int = 0
) -> optax.GradientTransformation:
  r"""Gravity.

  .. math:: \theta \leftarrow \theta - \eta\,v_t,\quad v_0 \sim \mathcal N(0, (\alpha/\eta)^2)

  Args:
    learning_rate: :math:`\eta`, a positive scalar (it also sets the initial velocity's scale).
    alpha: the initial step's scale: :math:`\eta\,v_0` has standard deviation :math:`\alpha`.
    beta: see `scale_by_gravity`.
    seed: seed of the initial velocity draw.

  Returns:
    An `optax.GradientTransformation`.

  Example:
    >>> opt = gravity(learning_rate=0.1)

  References:
    Bahrami & Zadeh, Gravity Optimizer: a Kinematic Approach on Optimization in Deep Learning,
    https://arxiv.org/abs/2101.09192
  """
  if callable(learning_rate) or not learning_rate > 0:
    raise ValueError(f"learning_rate must be a positive scalar; got {learning_rate!r}.")
  return optax.chain(
    scale_by_gravity(beta=beta, init_std=alpha / learning_rate, seed=seed),
    optax.scale_by_learning_rate(learning_rate),
  )

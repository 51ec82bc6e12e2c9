"""Adam+CM: Adam with a buffer of critical momenta that promotes exploration."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByAdamCMState(NamedTuple):
  """State of `scale_by_adam_cm`.

  Attributes:
    count: step count.
    mu: first moment $m$ (float32).
    nu: second moment $v$ of the aggregated momentum (float32).
    priorities: $(C,)$ priorities of the buffer slots (decayed gradient norms).
    filled: number of filled slots, at most $C$.
    buffer: per tensor, $(C, *shape)$ stored momenta (float32).
  """

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  priorities: jax.Array
  filled: jax.Array
  buffer: optax.Updates


def scale_by_adam_cm(
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  buffer_size: int = 5,
  decay: float = 0.7,
  kappa: float = 1.0,
) -> optax.GradientTransformation:
  r"""The Adam+CM direction.

  With $B$ the buffer of up to $C$ momenta, each with a priority, and $\lVert g_t\rVert$ the
  norm of the whole gradient:

  $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad
    \tilde m_t = m_t + \kappa\,\mathrm{mean}(B)\ (\tilde m_t = m_t \text{ while } B = \emptyset),$$

  then $m_t$ enters $B$ with priority $\lVert g_t\rVert$ (into a free slot, or in place of
  the lowest-priority entry when $\lVert g_t\rVert$ exceeds it), and

  $$v_t = \beta_2 v_{t-1} + (1-\beta_2)\tilde m_t^2,\qquad
    d_t = \frac{\tilde m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon},$$

  after which all priorities are multiplied by `decay`. One priority list is shared by all
  tensors (the authors' default, `synced=True`). Unlike the authors' code, the first step
  is an ordinary step (their first call stores the raw gradient and does not move).

  Args:
    b1: $\beta_1$.
    b2: $\beta_2$.
    eps: $\epsilon$.
    buffer_size: $C \ge 1$, capacity of the buffer (memory: $C$ extra copies of the params).
    decay: priority decay per step, in [0, 1).
    kappa: weight of the buffer mean; 0 recovers Adam.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Malviya et al., Promoting Exploration in Memory-Augmented Adam using Critical Momenta,
    https://arxiv.org/abs/2307.09638
  """
  if buffer_size < 1:
    raise ValueError(f"buffer_size must be an integer >= 1, got {buffer_size}.")
  if not 0.0 <= decay < 1.0:
    raise ValueError(f"decay must be in [0, 1), got {decay}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByAdamCMState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(zeros, params),
      nu=jax.tree.map(zeros, params),
      priorities=jnp.zeros([buffer_size], jnp.float32),
      filled=jnp.zeros([], jnp.int32),
      buffer=jax.tree.map(lambda p: jnp.zeros((buffer_size, *p.shape), jnp.float32), params),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    gnorm = optax.tree.norm(g32)
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g32)

    n = jnp.maximum(state.filled, 1).astype(jnp.float32)
    has = state.filled > 0
    agg = jax.tree.map(
      lambda m, b: m + jnp.where(has, kappa * jnp.sum(b, axis=0) / n, 0.0), mu, state.buffer
    )

    full = state.filled >= buffer_size
    slots = jnp.arange(buffer_size)
    occupied = slots < state.filled
    lowest = jnp.argmin(jnp.where(occupied, state.priorities, jnp.inf))
    slot = jnp.where(full, lowest, state.filled)
    insert = jnp.logical_not(full) | (gnorm > state.priorities[lowest])
    write = insert & (slots == slot)
    priorities = jnp.where(write, gnorm, state.priorities)
    wshape = lambda b: write.reshape((buffer_size,) + (1,) * (b.ndim - 1))
    buffer = jax.tree.map(lambda b, m: jnp.where(wshape(b), m[None], b), state.buffer, mu)
    filled = jnp.minimum(state.filled + 1, buffer_size)

    nu = jax.tree.map(lambda v, a: b2 * v + (1 - b2) * a * a, state.nu, agg)
    t = count.astype(jnp.float32)
    c1, c2 = 1 - b1**t, 1 - b2**t
    new_updates = jax.tree.map(
      lambda a, v, g: ((a / c1) / (jnp.sqrt(v / c2) + eps)).astype(g.dtype), agg, nu, updates
    )
    new_state = ScaleByAdamCMState(count, mu, nu, priorities * decay, filled, buffer)
    return new_updates, new_state

  return optax.GradientTransformation(init_fn, update_fn)


def adam_cm(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  buffer_size: int = 5,
  decay: float = 0.7,
  kappa: float = 1.0,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """Adam+CM: `scale_by_adam_cm`, decoupled weight decay, then the learning rate."""
  return optax.chain(
    scale_by_adam_cm(b1, b2, eps, buffer_size, decay, kappa),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

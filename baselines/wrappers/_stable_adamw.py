"""StableAdamW: AdamW with Adafactor-style update clipping, per tensor."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByStableAdamState(NamedTuple):
  """State of `scale_by_stable_adam`: step count, first and second moments (float32)."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def scale_by_stable_adam(
  b1: float = 0.9,
  b2: float = 0.99,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  clip_threshold: float = 1.0,
) -> optax.GradientTransformation:
  r"""The StableAdamW direction, update clipping included.

  With bias-corrected moments (the paper writes them with
  $\hat\beta_t = \beta (1-\beta^{t-1})/(1-\beta^t)$, which is the same thing),

  $$\hat m_t = \frac{m_t}{1-\beta_1^t},\quad \hat v_t = \frac{v_t}{1-\beta_2^t},\quad
    \mathrm{RMS}_t = \sqrt{\mathrm{mean}\big(g_t^2 / \max(\hat v_t, \epsilon^2)\big)},$$

  per tensor, and the direction (to be multiplied by $-\alpha_t$) is

  $$d_t = \frac{1}{\max(1, \mathrm{RMS}_t / d)}
    \Big(\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} + \lambda \theta_{t-1}\Big):$$

  the clipped learning rate $\eta_t = \alpha_t / \max(1, \mathrm{RMS}_t/d)$ scales the weight
  decay too, which is why the decay lives inside this transform.

  Args:
    b1: $\beta_1$.
    b2: $\beta_2$.
    eps: $\epsilon$.
    weight_decay: $\lambda$, decoupled weight decay (needs `params` when nonzero).
    clip_threshold: $d$, the RMS above which the step is scaled down.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Wortsman et al., Stable and low-precision training for large-scale vision-language
    models, https://arxiv.org/abs/2304.13013
  """
  if clip_threshold <= 0:
    raise ValueError(f"clip_threshold must be > 0, got {clip_threshold}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByStableAdamState(
      jnp.zeros([], jnp.int32), jax.tree.map(zeros, params), jax.tree.map(zeros, params)
    )

  def update_fn(updates, state, params=None):
    if weight_decay and params is None:
      raise ValueError("scale_by_stable_adam with weight_decay needs `params` in update.")
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    c1, c2 = 1 - b1**t, 1 - b2**t
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g32)
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, g32)

    def direction(g, m, v, p):
      m_hat, v_hat = m / c1, v / c2
      rms = jnp.sqrt(jnp.mean(g * g / jnp.maximum(v_hat, eps**2)))
      d = m_hat / (jnp.sqrt(v_hat) + eps)
      if weight_decay:
        d = d + weight_decay * p.astype(jnp.float32)
      return (d / jnp.maximum(1.0, rms / clip_threshold)).astype(g.dtype)

    ps = params if weight_decay else updates
    new_updates = jax.tree.map(direction, g32, mu, nu, ps)
    new_updates = jax.tree.map(lambda d, g: d.astype(g.dtype), new_updates, updates)
    return new_updates, ScaleByStableAdamState(count, mu, nu)

  return optax.GradientTransformation(init_fn, update_fn)


def stable_adamw(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.99,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  clip_threshold: float = 1.0,
) -> optax.GradientTransformation:
  """StableAdamW: `scale_by_stable_adam` then the learning rate (see its docstring)."""
  return optax.chain(
    scale_by_stable_adam(b1, b2, eps, weight_decay, clip_threshold),
    optax.scale_by_learning_rate(learning_rate),
  )

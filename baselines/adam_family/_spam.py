"""SPAM: Adam with spike-aware clipping, periodic momentum reset and a short re-warmup."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleBySpamState(NamedTuple):
  """State of `scale_by_spam`."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def scale_by_spam(
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  spike_threshold: float = 5000.0,
  reset_interval: int = 500,
  warmup_steps: int = 150,
  clip_delay: int = 20,
) -> optax.GradientTransformation:
  r"""The SPAM direction.

  At step :math:`t = 1, 2, \ldots`:

  1. Momentum reset: when :math:`t \bmod \Delta T = 0`, set :math:`m, v \leftarrow 0`.
  2. Spike-aware clipping (once :math:`t \ge N` and :math:`t \bmod \Delta T \ge N`, so that
     :math:`v` has re-accumulated): where :math:`g_i^2 > \theta\,v_{i}`,
     :math:`g_i \leftarrow \mathrm{sign}(g_i)\sqrt{\theta\,v_i}`.
  3. Adam: :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v +
     (1-\beta_2) g^2`, :math:`u = \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\frac{m}{\sqrt v +
     \epsilon}` (bias corrections count from step 1, not from the last reset).
  4. Cosine re-warmup: :math:`d_t = w_c\,u`, with :math:`c` the steps since the last reset and
     :math:`w_c = 1 - 0.99\cdot\frac{1 + \cos(\pi c / (T_w + 1))}{2}` for :math:`c < T_w`,
     :math:`w_c = 1` otherwise (and before the first reset).

  The sparse-momentum variant of the paper is not included.

  Args:
    b1: decay of the first moment.
    b2: decay of the second moment.
    eps: added to :math:`\sqrt v`.
    spike_threshold: :math:`\theta`; 0 disables clipping.
    reset_interval: :math:`\Delta T`, steps between momentum resets; 0 disables resets.
    warmup_steps: :math:`T_w`, length of the cosine re-warmup after a reset.
    clip_delay: :math:`N`, steps after the start and after each reset before clipping.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Huang et al., SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training,
    https://arxiv.org/abs/2501.06842
  """
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got b1={b1}, b2={b2}.")
  if spike_threshold < 0:
    raise ValueError(f"spike_threshold must be >= 0 (0 disables it); got {spike_threshold}.")
  if reset_interval < 0 or warmup_steps < 0 or clip_delay < 0:
    raise ValueError(
      "reset_interval, warmup_steps and clip_delay must be >= 0; got "
      f"{reset_interval}, {warmup_steps}, {clip_delay}."
    )

  def init_fn(params):
    return ScaleBySpamState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(jnp.zeros_like, params),
      nu=jax.tree.map(jnp.zeros_like, params),
    )

  def update_fn(updates, state, params=None):
    del params
    t = state.count + 1
    if reset_interval > 0:
      reset = t % reset_interval == 0
      since_reset = t % reset_interval
      clip_on = (t >= clip_delay) & (since_reset >= clip_delay)
      # Steps since the latest reset (the reset step itself is 0); large before any reset.
      c = jnp.where(t >= reset_interval, since_reset, warmup_steps + t)
    else:
      reset = jnp.zeros([], bool)
      clip_on = t >= clip_delay
      c = warmup_steps + t
    c = c.astype(jnp.float32)
    if warmup_steps > 0:
      decay = 0.99 * 0.5 * (1.0 + jnp.cos(math.pi * c / (warmup_steps + 1)))
      scale = jnp.where(c < warmup_steps, 1.0 - decay, 1.0)
    else:
      scale = jnp.ones([], jnp.float32)

    def clip(g, v):
      if spike_threshold == 0:
        return g
      g32, v32 = g.astype(jnp.float32), v.astype(jnp.float32)
      spike = clip_on & (g32 * g32 > spike_threshold * v32)
      return jnp.where(spike, jnp.sign(g32) * jnp.sqrt(spike_threshold * v32), g32).astype(g.dtype)

    mu = jax.tree.map(lambda m: jnp.where(reset, jnp.zeros_like(m), m), state.mu)
    nu = jax.tree.map(lambda v: jnp.where(reset, jnp.zeros_like(v), v), state.nu)
    grads = jax.tree.map(clip, updates, nu)
    mu = jax.tree.map(lambda m, g: (b1 * m + (1 - b1) * g).astype(m.dtype), mu, grads)
    nu = jax.tree.map(lambda v, g: (b2 * v + (1 - b2) * g * g).astype(v.dtype), nu, grads)
    tf = t.astype(jnp.float32)
    step = jnp.sqrt(1 - b2**tf) / (1 - b1**tf) * scale

    def direction(m, v):
      u = step * m.astype(jnp.float32) / (jnp.sqrt(v.astype(jnp.float32)) + eps)
      return u.astype(m.dtype)

    updates = jax.tree.map(direction, mu, nu)
    return updates, ScaleBySpamState(count=t, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def spam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  spike_threshold: float = 5000.0,
  reset_interval: int = 500,
  warmup_steps: int = 150,
  clip_delay: int = 20,
) -> optax.GradientTransformation:
  r"""SPAM with decoupled weight decay.

  .. math:: \theta \leftarrow \theta - \eta(d_t + \lambda\theta)

  The weights decay before the step (AdamW's order). The authors' code
  (TianjinYellow/SPAM-Optimizer `galore_torch/SPAM.py`) decays the stepped weights,
  :math:`\theta \leftarrow (\theta - \eta d_t)(1 - \eta\lambda)`: a difference of
  :math:`\eta^2\lambda d_t`, second order (relative :math:`\eta\lambda`, about 1e-4 at
  typical settings), kept so that decay is optax's `add_decayed_weights` like every rule here.

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, eps, spike_threshold, reset_interval, warmup_steps, clip_delay: see
      `scale_by_spam`.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformation`.

  Example:
    >>> opt = spam(learning_rate=1e-3)

  References:
    Huang et al., SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training,
    https://arxiv.org/abs/2501.06842
  """
  return optax.chain(
    scale_by_spam(
      b1=b1,
      b2=b2,
      eps=eps,
      spike_threshold=spike_threshold,
      reset_interval=reset_interval,
      warmup_steps=warmup_steps,
      clip_delay=clip_delay,
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

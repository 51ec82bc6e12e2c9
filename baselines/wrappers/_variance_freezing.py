"""Adam whose second moment is frozen after a preconditioning phase (STEP, 1-bit Adam)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByFrozenVarianceAdamState(NamedTuple):
  """State of `scale_by_frozen_variance_adam`: step count, moments (float32)."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def scale_by_frozen_variance_adam(
  b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, freeze_step: int = 1000
) -> optax.GradientTransformation:
  r"""The Adam direction with the second moment frozen after `freeze_step` steps.

  $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad
    v_t = \begin{cases}\beta_2 v_{t-1} + (1-\beta_2) g_t^2 & t \le T_w\\
    v_{T_w} & t > T_w\end{cases},$$

  $$d_t = \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^{\min(t, T_w)})} + \epsilon}.$$

  After $T_w$ the bias-corrected variance is a fixed diagonal preconditioner. STEP detects
  $T_w$ automatically from sampled variance changes; here it is a hyperparameter, as in
  1-bit Adam's warmup stage.

  Args:
    b1: $\beta_1$.
    b2: $\beta_2$.
    eps: $\epsilon$.
    freeze_step: $T_w \ge 1$, the last step that updates the variance.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Lu et al., STEP: Learning N:M Structured Sparsity Masks from Scratch with Precondition,
    https://arxiv.org/abs/2302.01172;
    Tang et al., 1-bit Adam: Communication Efficient Large-Scale Training with Adam's
    Convergence Speed, https://arxiv.org/abs/2102.02888
  """
  if freeze_step < 1:
    raise ValueError(f"freeze_step must be an integer >= 1, got {freeze_step}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByFrozenVarianceAdamState(
      jnp.zeros([], jnp.int32), jax.tree.map(zeros, params), jax.tree.map(zeros, params)
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    frozen = count > freeze_step
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g32)
    nu = jax.tree.map(lambda v, g: jnp.where(frozen, v, b2 * v + (1 - b2) * g * g), state.nu, g32)
    t = count.astype(jnp.float32)
    c1 = 1 - b1**t
    c2 = 1 - b2 ** jnp.minimum(t, float(freeze_step))
    new_updates = jax.tree.map(
      lambda m, v, g: ((m / c1) / (jnp.sqrt(v / c2) + eps)).astype(g.dtype), mu, nu, updates
    )
    return new_updates, ScaleByFrozenVarianceAdamState(count, mu, nu)

  return optax.GradientTransformation(init_fn, update_fn)


def frozen_variance_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  freeze_step: int = 1000,
) -> optax.GradientTransformation:
  """Adam with the variance frozen after `freeze_step` steps, then the learning rate."""
  return optax.chain(
    scale_by_frozen_variance_adam(b1, b2, eps, freeze_step),
    optax.scale_by_learning_rate(learning_rate),
  )

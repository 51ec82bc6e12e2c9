"""Ranger21: AdamW-style positive-negative momentum plus eight components, composed in optax.

Optax already ships adaptive gradient clipping (`optax.adaptive_grad_clip`) and gradient
centralization (`optax.centralize`), and the project has Lookahead on plain parameters
(`baselines.wrappers._lookahead.lookahead`). This file adds the remaining pieces, each a small
reusable transform or schedule, and composes them:

- `normalize_by_std`: per-tensor gradient normalization, g / (std(g) + eps);
- `scale_by_pnm`: the AdaPNM direction (positive-negative momentum);
- `add_stable_weight_decay`: stable weight decay (AdamS), lambda * theta / sqrt(mean v_hat);
- `add_norm_loss`: the gradient of the norm loss, 2 lambda (1 - 1/||w_u||) w per unit;
- `explore_exploit_schedule`: linear warmup, constant (explore), linear warm-down (exploit).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import axes
from baselines.wrappers._lookahead import lookahead

# ------------------------------------------------------------------ gradient normalization


def normalize_by_std(eps: float = 1e-8) -> optax.GradientTransformation:
  r"""Per-tensor gradient normalization: $g \leftarrow g / (\mathrm{std}(g) + \epsilon)$.

  The standard deviation is the unbiased one over all entries of the tensor; tensors with at
  most 2 entries pass unchanged (as in Ranger21's `normalize_gradient`).

  Args:
    eps: $\epsilon$, added to the standard deviation.

  Returns:
    A stateless `optax.GradientTransformation`.
  """

  def norm(g):
    if g.size <= 2:
      return g
    g32 = g.astype(jnp.float32)
    return (g32 / (jnp.std(g32, ddof=1) + eps)).astype(g.dtype)

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(norm, updates), state

  return optax.GradientTransformation(lambda _: optax.EmptyState(), update_fn)


# ------------------------------------------------------------------ positive-negative momentum


class ScaleByPnmState(NamedTuple):
  """State of `scale_by_pnm`: step count, the two momentum buffers, second moments."""

  count: jax.Array
  mu_odd: optax.Updates  # updated on odd steps (t = 1, 3, ...)
  mu_even: optax.Updates  # updated on even steps
  nu: optax.Updates
  nu_max: optax.Updates


def scale_by_pnm(
  b1: float = 0.9,
  b2: float = 0.999,
  beta0: float = 1.0,
  eps: float = 1e-8,
  amsgrad: bool = True,
) -> optax.GradientTransformation:
  r"""The AdaPNM direction (Adam with positive-negative momentum).

  Two momentum buffers alternate; at step $t$ the buffer of $t$'s parity is updated, and
  the other one (last updated at $t-1$) enters with a negative weight:

  $$m_t = \beta_1^2 m_{t-2} + (1-\beta_1^2) g_t, \qquad
    \bar m_t = \frac{(1+\beta_0) m_t - \beta_0 m_{t-1}}{\sqrt{(1+\beta_0)^2 + \beta_0^2}},$$
  $$v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
    v^{\max}_t = \max(v^{\max}_{t-1}, v_t)\ (\text{amsgrad}), \quad
    d_t = \frac{\bar m_t / (1-\beta_1^t)}{\sqrt{v^{\max}_t / (1-\beta_2^t)} + \epsilon}.$$

  Args:
    b1: $\beta_1$ (the buffers decay with $\beta_1^2$).
    b2: $\beta_2$.
    beta0: $\beta_0 \geq 0$, the positive-negative momentum factor (0 gives Adam with
      momentum $\beta_1^2$).
    eps: $\epsilon$.
    amsgrad: use the running maximum of $v_t$ (AdaPNM's default); otherwise $v_t$.

  Returns:
    An `optax.GradientTransformation` returning the direction $d_t$.

  References:
    Xie et al., Positive-Negative Momentum: Manipulating Stochastic Gradient Noise to
    Improve Generalization, https://arxiv.org/abs/2103.17182 (Algorithm 2, AdaPNM)
  """
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1), got b1={b1}, b2={b2}.")
  if beta0 < 0:
    raise ValueError(f"beta0 must be >= 0, got {beta0}.")
  noise_norm = math.sqrt((1 + beta0) ** 2 + beta0**2)

  def init_fn(params):
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    return ScaleByPnmState(jnp.zeros([], jnp.int32), zeros(), zeros(), zeros(), zeros())

  def update_fn(updates, state, params=None):
    del params
    count = state.count + 1
    odd = count % 2 == 1
    b1sq = b1**2

    def moments(g, mo, me, v, vmax):
      g32 = g.astype(jnp.float32)
      cur = jnp.where(odd, mo, me)
      prev = jnp.where(odd, me, mo)
      cur = b1sq * cur + (1 - b1sq) * g32
      v = b2 * v + (1 - b2) * g32**2
      vmax = jnp.maximum(vmax, v) if amsgrad else v
      mo, me = jnp.where(odd, cur, mo), jnp.where(odd, me, cur)
      return cur, prev, mo, me, v, vmax

    out = jax.tree.map(moments, updates, state.mu_odd, state.mu_even, state.nu, state.nu_max)
    pick = lambda i: jax.tree.map(lambda _, o: o[i], updates, out)
    cur, prev, mu_odd, mu_even, nu, nu_max = (pick(i) for i in range(6))
    bc1 = 1 - b1 ** count.astype(jnp.float32)
    bc2 = 1 - b2 ** count.astype(jnp.float32)

    def direction(g, c, p, vm):
      m_bar = ((1 + beta0) * c - beta0 * p) / noise_norm
      return ((m_bar / bc1) / (jnp.sqrt(vm / bc2) + eps)).astype(g.dtype)

    updates = jax.tree.map(direction, updates, cur, prev, nu_max)
    return updates, ScaleByPnmState(count, mu_odd, mu_even, nu, nu_max)

  return optax.GradientTransformation(init_fn, update_fn)


# ------------------------------------------------------------------ stable weight decay


class StableWeightDecayState(NamedTuple):
  """State of `add_stable_weight_decay`: step count, second moments, the inner state."""

  count: jax.Array
  nu: optax.Updates
  inner: optax.OptState


def add_stable_weight_decay(
  inner: optax.GradientTransformation,
  weight_decay: float = 1e-4,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  r"""Stable weight decay (AdamS) added to the direction of `inner`.

  With $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$ the second moment of the gradient this
  wrapper receives (the one `inner` receives too), $\hat v_t = v_t / (1-\beta_2^t)$ and
  $\bar v_t$ the mean of $\hat v_t$ over all entries of all parameters:

  $$d_t \leftarrow d_t + \lambda\, \theta_{t-1} / (\sqrt{\bar v_t} + \epsilon).$$

  Args:
    inner: the transform returning the direction (e.g. `scale_by_pnm`).
    weight_decay: $\lambda \geq 0$.
    b2: $\beta_2$ of the second moment (use the one of `inner`).
    eps: $\epsilon$, guards $\bar v_t = 0$.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`.

  References:
    Xie et al., On the Overlooked Pitfalls of Weight Decay and How to Mitigate Them: A
    Gradient-Norm Perspective (stable weight decay), https://arxiv.org/abs/2011.11152
  """
  if weight_decay < 0:
    raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")

  def init_fn(params):
    nu = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    return StableWeightDecayState(jnp.zeros([], jnp.int32), nu, inner.init(params))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("add_stable_weight_decay needs `params` in update.")
    count = state.count + 1
    nu = jax.tree.map(
      lambda v, g: b2 * v + (1 - b2) * g.astype(jnp.float32) ** 2, state.nu, updates
    )
    size = sum(v.size for v in jax.tree.leaves(nu))
    v_bar = (
      sum(jnp.sum(v) for v in jax.tree.leaves(nu)) / size / (1 - b2 ** count.astype(jnp.float32))
    )
    scale = weight_decay / (jnp.sqrt(v_bar) + eps)
    new_updates, inner_state = inner.update(updates, state.inner, params)
    new_updates = jax.tree.map(
      lambda d, p: (d.astype(jnp.float32) + scale * p.astype(jnp.float32)).astype(d.dtype),
      new_updates,
      params,
    )
    return new_updates, StableWeightDecayState(count, nu, inner_state)

  return optax.GradientTransformation(init_fn, update_fn)


# ------------------------------------------------------------------ norm loss


def _unit_norm(w):
  """L2 norm per unit: per output channel over the fan-in axes (ndim >= 2: all axes but the
  last, `baselines.axes`), the whole tensor otherwise."""
  if w.ndim <= 1:
    return jnp.sqrt(jnp.sum(w**2))
  fan_in = axes.fan_in_axes("conv" if w.ndim > 2 else "dense", w.ndim)
  return jnp.sqrt(jnp.sum(w**2, axis=fan_in, keepdims=True))


def add_norm_loss(factor: float = 1e-4, eps: float = 1e-8) -> optax.GradientTransformation:
  r"""Adds the gradient of the norm loss $\lambda \sum_u (1 - \lVert w_u \rVert)^2$.

  $$d \leftarrow d + 2\lambda\,\bigl(1 - 1/(\lVert w_u \rVert + \epsilon)\bigr)\, w,$$

  where a unit $w_u$ is a slice along the last axis (an output unit of a Dense kernel
  `[in, out]` or a conv kernel `[..., in, out]`, optax's `unitwise_norm` convention), and
  the whole tensor for vectors and scalars.

  Args:
    factor: $\lambda \geq 0$.
    eps: $\epsilon$.

  Returns:
    A stateless `optax.GradientTransformation`; `update` needs `params`.

  References:
    Georgiou et al., Norm Loss: An efficient yet effective regularization method for deep
    neural networks, https://arxiv.org/abs/2011.06907
  """
  if factor < 0:
    raise ValueError(f"factor must be >= 0, got {factor}.")

  def term(d, p):
    p32 = p.astype(jnp.float32)
    corr = 2 * factor * (1 - 1 / (_unit_norm(p32) + eps))
    return (d.astype(jnp.float32) + corr * p32).astype(d.dtype)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("add_norm_loss needs `params` in update.")
    return jax.tree.map(term, updates, params), state

  return optax.GradientTransformation(lambda _: optax.EmptyState(), update_fn)


# ------------------------------------------------------------------ explore-exploit schedule


def explore_exploit_schedule(
  peak_value: float,
  num_steps: int,
  warmup_steps: int,
  warmdown_start_pct: float = 0.72,
  min_value: float = 3e-5,
) -> optax.Schedule:
  r"""Linear warmup, constant ("explore"), then linear warm-down ("exploit").

  For the update with (0-based) count $t$, with $s = t + 1$, $W$ = `warmup_steps`,
  $T$ = `num_steps`, $T_d = \lfloor p\,T \rfloor$ and $\eta_{\min} = \min$(`min_value`,
  `peak_value`):

  $$\eta_t = \begin{cases} \eta\, s / W & s < W \\ \eta & W \le s \le T_d \\
    \eta - (\eta - \eta_{\min}) \min\bigl(1, (s - T_d)/(T - T_d)\bigr) & s > T_d.
  \end{cases}$$

  Args:
    peak_value: $\eta$.
    num_steps: $T$, the training horizon.
    warmup_steps: $W \geq 0$.
    warmdown_start_pct: $p \in (0, 1]$, where the warm-down starts.
    min_value: the learning rate reached at $T$ (capped at `peak_value`).

  Returns:
    An `optax.Schedule`.

  References:
    Iyer et al., Wide-minima Density Hypothesis and the Explore-Exploit Learning Rate
    Schedule, https://arxiv.org/abs/2003.03977
  """
  if num_steps < 1 or not 0 <= warmup_steps <= num_steps:
    raise ValueError(
      f"Need num_steps >= 1 and 0 <= warmup_steps <= num_steps, got {num_steps}, {warmup_steps}."
    )
  if not 0.0 < warmdown_start_pct <= 1.0:
    raise ValueError(f"warmdown_start_pct must be in (0, 1], got {warmdown_start_pct}.")
  start = int(warmdown_start_pct * num_steps)
  low = min(min_value, peak_value)

  def schedule(count):
    s = jnp.asarray(count, jnp.float32) + 1.0
    warm = jnp.minimum(1.0, s / warmup_steps) if warmup_steps > 0 else 1.0
    frac = jnp.clip((s - start) / max(num_steps - start, 1), 0.0, 1.0)
    return peak_value * warm - (peak_value - low) * frac

  return schedule


def ranger21_warmup_steps(num_steps: int, b2: float = 0.999, pct: float = 0.22) -> int:
  """Ranger21's default warmup: ceil(2 / (1 - b2)) steps, or pct * num_steps when that
  exceeds 45% of training."""
  steps = math.ceil(2 / (1 - b2))
  return int(pct * num_steps) if steps > 0.45 * num_steps else steps


# ------------------------------------------------------------------ Ranger21


def ranger21(
  learning_rate: float,
  num_steps: int = 1000,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 1e-4,
  normloss_factor: float = 1e-4,
  pnm_momentum: float = 1.0,
  agc_clipping: float = 1e-2,
  agc_eps: float = 1e-3,
  warmup_steps: int | None = None,
  warmdown_start_pct: float = 0.72,
  warmdown_min_lr: float = 3e-5,
  sync_period: int = 5,
  slow_step_size: float = 0.5,
) -> optax.GradientTransformation:
  r"""Ranger21, composed from optax and project transforms.

  Per step, on the gradient $g$ of the (fast) parameters $\theta$:

  1. adaptive gradient clipping, $\lambda_{\mathrm{agc}}$ = `agc_clipping`
     (`optax.adaptive_grad_clip`);
  2. gradient centralization (`optax.centralize`);
  3. gradient normalization, $g / (\mathrm{std}(g) + \epsilon)$ (`normalize_by_std`);
  4. the AdaPNM direction $d$ (`scale_by_pnm`, $\beta_0$ = `pnm_momentum`, amsgrad);
  5. stable weight decay, $d \mathrel{+}= \lambda\theta / \sqrt{\bar v}$
     (`add_stable_weight_decay`);
  6. norm loss, $d \mathrel{+}= 2\lambda_n(1 - 1/\lVert\theta_u\rVert)\theta$
     (`add_norm_loss`);
  7. $\theta \leftarrow \theta - \eta_t d$ with $\eta_t$ the linear warmup and
     explore-exploit warm-down (`explore_exploit_schedule`);
  8. Lookahead every `sync_period` steps (`baselines.wrappers._lookahead.lookahead`).

  Simplification: Ranger21 applies the decay (5) and the norm loss (6) as successive
  in-place multiplications of $\theta$ before the Adam step; here all terms are evaluated at
  $\theta_{t-1}$ and added, which differs by $O(\eta_t^2 \lambda \lambda_n)$. PNM's noise
  normalization uses $\beta_0$ as in the PNM paper. The optional MADGRAD core, softplus
  denominator and Chebyshev schedule of the reference code are not included.

  Args:
    learning_rate: peak learning rate $\eta$.
    num_steps: training horizon $T$ (the warm-down ends there).
    b1, b2, eps: AdaPNM's $\beta_1, \beta_2, \epsilon$.
    weight_decay: stable weight decay $\lambda$.
    normloss_factor: norm-loss $\lambda_n$.
    pnm_momentum: $\beta_0$.
    agc_clipping, agc_eps: AGC's clipping ratio and epsilon.
    warmup_steps: linear warmup length; None means Ranger21's rule
      (`ranger21_warmup_steps`).
    warmdown_start_pct, warmdown_min_lr: the warm-down's start (fraction of $T$) and end
      value.
    sync_period, slow_step_size: Lookahead's $k$ and $\alpha$.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Wright & Demeure, Ranger21: a synergistic deep learning optimizer,
    https://arxiv.org/abs/2106.13731
  """
  if warmup_steps is None:
    warmup_steps = ranger21_warmup_steps(num_steps, b2)
  schedule = explore_exploit_schedule(
    learning_rate, num_steps, warmup_steps, warmdown_start_pct, warmdown_min_lr
  )
  fast = optax.chain(
    optax.adaptive_grad_clip(agc_clipping, agc_eps),
    optax.centralize(),
    normalize_by_std(),
    add_stable_weight_decay(scale_by_pnm(b1, b2, pnm_momentum, eps), weight_decay, b2),
    add_norm_loss(normloss_factor),
    optax.scale_by_learning_rate(schedule),
  )
  return lookahead(fast, sync_period=sync_period, slow_step_size=slow_step_size)

"""Learning-rate schedules refined from an observed gradient-norm sequence (Defazio et al.).

The worst-case last-iterate analysis of the paper favours linear decay to zero; given the
gradient norms seen in a previous run, the same analysis gives a task-specific schedule that
shows warmup and fast final annealing on its own. The schedule is computed once, on the host,
from the logged norms, and returned as an ordinary optax schedule (an array indexed by the
step count), so it jits like any other schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import jax.numpy as jnp
import numpy as np
import optax

Norm = Literal["l2", "l1"]


def median_filter(values: Sequence[float], width: int) -> np.ndarray:
  """Running median over a centred window of `width` points, edges padded with the end values.

  Args:
    values: a 1-D sequence.
    width: the window length (>= 1); an even width is rounded up to the next odd one.

  Returns:
    A float64 array of the same length as `values`.
  """
  x = np.asarray(values, np.float64)
  if x.ndim != 1 or x.size == 0:
    raise ValueError(f"median_filter needs a non-empty 1-D sequence, got shape {x.shape}.")
  if width < 1:
    raise ValueError(f"median_filter needs width >= 1, got {width}.")
  half = width // 2
  padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
  windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
  return np.median(windows, axis=-1)


def refined_weights(
  grad_norms: Sequence[float], *, smoothing: float = 0.0, norm: Norm = "l2"
) -> np.ndarray:
  """The normalized refined schedule w_t / max_s w_s for a logged gradient-norm sequence.

  With ĝ the median-filtered norms (window `smoothing * T`, at least 1):

    l2 (SGD, Algorithm 1):            w_t = ĝ_t^{-2} Σ_{p=t+1}^{T-1} ĝ_p^{-2}
    l1 (coordinate-wise, e.g. Adam):  w_t = ĝ_t^{-1} Σ_{p=t+1}^{T-1} ĝ_p^{-1}

  where the l1 variant expects the ℓ1 norms of the gradients. Constant norms give linear decay
  to zero, w_t ∝ T - 1 - t.

  Args:
    grad_norms: the T gradient norms of a previous run, one per step (positive).
    smoothing: median-filter width as a fraction of T (the paper's τ); 0 means no filter.
    norm: "l2" (the SGD rule) or "l1" (the rule for coordinate-wise methods such as Adam).

  Returns:
    A float64 array of length T with maximum 1 and last entry 0.
  """
  if norm not in ("l2", "l1"):
    raise ValueError(f"norm must be one of ('l2', 'l1'), got {norm!r}.")
  if smoothing < 0:
    raise ValueError(f"smoothing must be >= 0, got {smoothing}.")
  g = np.asarray(grad_norms, np.float64)
  if g.ndim != 1 or g.size < 2 or not np.all(g > 0):
    raise ValueError("grad_norms must be a 1-D sequence of at least 2 positive numbers.")
  g = median_filter(g, max(1, int(smoothing * g.size)))
  power = 2.0 if norm == "l2" else 1.0
  inv = g**-power
  tail = np.concatenate([np.cumsum(inv[::-1])[::-1][1:], [0.0]])  # Σ_{p>t} ĝ_p^{-power}
  w = inv * tail
  return w / np.max(w)


def refined_schedule(
  peak_value: float,
  grad_norms: Sequence[float],
  *,
  smoothing: float = 0.0,
  norm: Norm = "l2",
) -> optax.Schedule:
  """An optax schedule η_t = peak_value · w_t / max w (see `refined_weights`).

  Steps past the end of the logged sequence get learning rate 0.

  Args:
    peak_value: the largest learning rate of the schedule.
    grad_norms: the gradient norms of a previous run, one per step.
    smoothing: median-filter width as a fraction of the number of steps (τ).
    norm: "l2" for SGD, "l1" for coordinate-wise methods such as Adam.

  Returns:
    An `optax.Schedule` (step count -> learning rate).

  References:
    Defazio, Cutkosky, Mehta & Mishchenko, When, Why and How Much? Adaptive Learning Rate
    Scheduling by Refinement, https://arxiv.org/abs/2310.07831
  """
  table = jnp.asarray(refined_weights(grad_norms, smoothing=smoothing, norm=norm), jnp.float32)
  table = jnp.concatenate([table, jnp.zeros((1,), jnp.float32)])
  last = table.shape[0] - 1

  def schedule(count):
    return peak_value * table[jnp.clip(count, 0, last)]

  return schedule


def sgd_refined(
  learning_rate: float,
  grad_norms: Sequence[float] | None = None,
  num_steps: int = 1000,
  smoothing: float = 0.0,
  momentum: float | None = None,
) -> optax.GradientTransformation:
  """SGD under a refined schedule (l2 rule); without `grad_norms`, linear decay to zero.

  Args:
    learning_rate: peak learning rate.
    grad_norms: gradient norms logged in a previous run (their length sets the horizon);
      None means constant norms over `num_steps` steps, i.e. linear decay to zero.
    num_steps: horizon when `grad_norms` is None.
    smoothing: median-filter width as a fraction of the horizon (τ).
    momentum: optional heavy-ball momentum of `optax.sgd`.

  Returns:
    An `optax.GradientTransformation`.
  """
  norms = np.ones(num_steps) if grad_norms is None else grad_norms
  sched = refined_schedule(learning_rate, norms, smoothing=smoothing, norm="l2")
  return optax.sgd(sched, momentum=momentum)


def adamw_refined(
  learning_rate: float,
  grad_norms: Sequence[float] | None = None,
  num_steps: int = 1000,
  smoothing: float = 0.0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
  """AdamW under a refined schedule (l1 rule: pass ℓ1 gradient norms); default linear decay.

  Args:
    learning_rate: peak learning rate.
    grad_norms: ℓ1 gradient norms logged in a previous run; None means linear decay to zero
      over `num_steps`.
    num_steps: horizon when `grad_norms` is None.
    smoothing: median-filter width as a fraction of the horizon (τ).
    b1, b2, eps, weight_decay: AdamW's.

  Returns:
    An `optax.GradientTransformation`.
  """
  norms = np.ones(num_steps) if grad_norms is None else grad_norms
  sched = refined_schedule(learning_rate, norms, smoothing=smoothing, norm="l1")
  return optax.adamw(sched, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)

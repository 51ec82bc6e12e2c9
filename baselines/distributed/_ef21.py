"""EF21 and weighted EF21 (EF21-W): error feedback on gradient estimates (T6-04, T6-05)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.distributed import communication as dist


class ScaleByEF21State(NamedTuple):
  count: jnp.ndarray
  estimates: Any  # per-worker g_i, shape (num_workers or 1, *p.shape), float32
  bits: jnp.ndarray


def scale_by_ef21(
  compressor: Literal["top_k", "scaled_sign"] = "top_k",
  k_fraction: float = 0.1,
  smoothness: Sequence[float] | None = None,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""EF21 (and EF21-W when `smoothness` is given): workers compress gradient *changes*.

  With weights $w_i = L_i / \sum_j L_j$ ($w_i = 1/n$ for EF21), each worker keeps an
  estimate $g_i$ (zero at start) and the server the weighted sum $g = \sum_i w_i g_i$:

  $$c_i = \mathcal C\!\Big(\frac{\nabla f_i(x)}{n w_i} - g_i\Big),\quad g_i \leftarrow g_i + c_i,
    \qquad d = g = \sum_i w_i g_i .$$

  Only $c_i$ is sent. $x \leftarrow x - \gamma d$ is the next step (the server's
  $g \leftarrow g + \sum_i w_i c_i$ equals the sum above).

  Args:
    compressor: `"top_k"` (the paper's experiments) or `"scaled_sign"`.
    k_fraction: fraction of each tensor's entries Top-K keeps.
    smoothness: EF21-W: the per-worker smoothness constants $L_i$ (length `num_workers`);
      None gives EF21 (equal weights).
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformation`; its state's `bits` is what one worker sent last step.

  References:
    Richtárik et al., EF21: A New, Simpler, Theoretically Better, and Practically Faster Error
    Feedback, https://arxiv.org/abs/2106.05203; Richtárik et al., Error Feedback Reloaded: From
    Quadratic to Arithmetic Mean of Smoothness Constants, https://arxiv.org/abs/2402.10774
  """
  dist.check_compressor(compressor, k_fraction)
  dist.check_num_workers(num_workers)
  n = dist.size(num_workers)
  if smoothness is None:
    weights = np.full((n,), 1.0 / n, np.float32)
  else:
    lips = np.asarray(smoothness, np.float64)
    if lips.shape != (n,) or (lips <= 0).any():
      raise ValueError(
        f"smoothness must hold {n} positive constants L_i (one per worker), got {smoothness!r}."
      )
    weights = (lips / lips.sum()).astype(np.float32)
  scale = jnp.asarray(1.0 / (n * weights))  # 1 / (n w_i)
  w = jnp.asarray(weights)

  def init_fn(params):
    return ScaleByEF21State(
      jnp.zeros([], jnp.int32),
      dist.worker_zeros(params, num_workers, params_have_axis=False),
      jnp.zeros([], jnp.float32),
    )

  def bcast(v, x):
    return v.reshape((n,) + (1,) * (x.ndim - 1))

  def update_fn(updates, state, params=None):
    del params
    g = dist.with_worker_axis(updates, num_workers)
    diff = jax.tree.map(
      lambda x, e: bcast(scale, x) * x.astype(jnp.float32) - e, g, state.estimates
    )
    c, bits = dist.compress_workers(diff, compressor, k_fraction)
    est = jax.tree.map(lambda e, ci: e + ci, state.estimates, c)
    d = jax.tree.map(lambda e, u: jnp.sum(bcast(w, e) * e, 0).astype(u.dtype), est, g)
    return d, ScaleByEF21State(
      optax.safe_increment(state.count), est, jnp.asarray(bits, jnp.float32)
    )

  return optax.GradientTransformation(init_fn, update_fn)


def ef21(
  learning_rate: optax.ScalarOrSchedule,
  compressor: Literal["top_k", "scaled_sign"] = "top_k",
  k_fraction: float = 0.1,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """EF21 gradient descent (`scale_by_ef21` with equal weights)."""
  return optax.chain(
    scale_by_ef21(compressor, k_fraction, None, num_workers),
    optax.scale_by_learning_rate(learning_rate),
  )


def ef21_w(
  learning_rate: optax.ScalarOrSchedule,
  smoothness: Sequence[float] | None = None,
  compressor: Literal["top_k", "scaled_sign"] = "top_k",
  k_fraction: float = 0.1,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """Weighted EF21 (EF21-W): weights proportional to the workers' smoothness constants."""
  return optax.chain(
    scale_by_ef21(compressor, k_fraction, smoothness, num_workers),
    optax.scale_by_learning_rate(learning_rate),
  )

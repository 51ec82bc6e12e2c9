"""Deep gradient compression: Top-K with momentum correction, local clipping, warmup (T6-07)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.distributed import communication as dist

_WARMUP_START = 0.75  # the paper's first warmup sparsity


class ScaleByDGCState(NamedTuple):
  count: jnp.ndarray
  momentum: Any  # per-worker u_i, (num_workers or 1, *p.shape), float32
  accumulation: Any  # per-worker v_i, (num_workers or 1, *p.shape), float32
  bits: jnp.ndarray


def dgc_sparsity(count: jnp.ndarray, sparsity: float, warmup_steps: int) -> jnp.ndarray:
  """Sparsity at step `count` (1-based): exponential rise from 0.75 to `sparsity` in warmup."""
  if warmup_steps == 0:
    return jnp.float32(sparsity)
  frac = jnp.minimum((count.astype(jnp.float32) - 1.0) / warmup_steps, 1.0)
  start = min(_WARMUP_START, sparsity)
  return 1.0 - (1.0 - start) * ((1.0 - sparsity) / (1.0 - start)) ** frac


def scale_by_dgc(
  momentum: float = 0.9,
  sparsity: float = 0.999,
  warmup_steps: int = 0,
  clip_norm: float | None = None,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""Deep gradient compression's direction.

  Worker i, per tensor: local clipping $g_i \leftarrow g_i \min(1, c/\lVert g_i\rVert_2)$
  (when `clip_norm` = c is set), momentum correction
  $u_i \leftarrow \mu u_i + g_i$, $v_i \leftarrow v_i + u_i$, then it sends
  $s_i = v_i \odot M_i$ with $M_i$ the mask of the $k_t = \max(1, \lceil(1-s_t) d\rceil)$
  largest $|v_i|$, and masks its momentum: $v_i \leftarrow v_i \odot (1-M_i)$,
  $u_i \leftarrow u_i \odot (1-M_i)$. The server averages: $d = \frac1n\sum_i s_i$.
  Warmup raises the sparsity $s_t$ exponentially from 0.75 to `sparsity` over
  `warmup_steps` steps (the paper: 75%, 93.75%, 98.4375%, 99.6%, 99.9% over four epochs).

  Args:
    momentum: $\mu$.
    sparsity: final fraction of entries *not* sent (0.999 in the paper).
    warmup_steps: steps of sparsity warmup (0: none).
    clip_norm: per-worker, per-tensor gradient clipping threshold (None: no clipping; the
      paper scales the global threshold by $n^{-1/2}$).
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformation`; its state's `bits` is what one worker sent last step.

  References:
    Lin et al., Deep Gradient Compression: Reducing the Communication Bandwidth for
    Distributed Training, https://arxiv.org/abs/1712.01887
  """
  dist.check_num_workers(num_workers)
  if not 0 <= sparsity < 1:
    raise ValueError(f"sparsity must be in [0, 1), got {sparsity}.")
  if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
    raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}.")
  if clip_norm is not None and clip_norm <= 0:
    raise ValueError(f"clip_norm must be None or > 0, got {clip_norm}.")

  def init_fn(params):
    z = dist.worker_zeros(params, num_workers, params_have_axis=False)
    return ScaleByDGCState(jnp.zeros([], jnp.int32), z, z, jnp.zeros([], jnp.float32))

  def update_fn(updates, state, params=None):
    del params
    g = dist.with_worker_axis(updates, num_workers)
    count = optax.safe_increment(state.count)
    s_t = dgc_sparsity(count, sparsity, warmup_steps)

    def one_tensor(x, u, v):  # one worker, one tensor
      x = x.astype(jnp.float32)
      if clip_norm is not None:
        x = x * jnp.minimum(1.0, clip_norm / jnp.maximum(jnp.linalg.norm(x.reshape(-1)), 1e-30))
      u = momentum * u + x
      v = v + u
      k = jnp.maximum(1, jnp.ceil((1.0 - s_t) * x.size)).astype(jnp.int32)
      mask = dist.top_k_mask(v, k)
      return v * mask, u * (1 - mask), v * (1 - mask), k

    out = jax.tree.map(
      lambda x, u, v: jax.vmap(one_tensor)(x, u, v), g, state.momentum, state.accumulation
    )
    is_out = lambda t: isinstance(t, tuple) and len(t) == 4
    sent = jax.tree.map(lambda t: t[0], out, is_leaf=is_out)
    d = jax.tree.map(lambda s, x: jnp.mean(s, 0).astype(x.dtype), sent, updates)
    bits = sum(
      t[3][0].astype(jnp.float32) * (32 + dist.index_bits(int(np.prod(t[0].shape[1:]))))
      for t in jax.tree.leaves(out, is_leaf=is_out)
    )
    new = ScaleByDGCState(
      count,
      jax.tree.map(lambda t: t[1], out, is_leaf=is_out),
      jax.tree.map(lambda t: t[2], out, is_leaf=is_out),
      jnp.asarray(bits, jnp.float32),
    )
    return d, new

  return optax.GradientTransformation(init_fn, update_fn)


def dgc(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  sparsity: float = 0.999,
  warmup_steps: int = 0,
  clip_norm: float | None = None,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """Deep gradient compression (`scale_by_dgc`) and the learning rate."""
  return optax.chain(
    scale_by_dgc(momentum, sparsity, warmup_steps, clip_norm, num_workers),
    optax.scale_by_learning_rate(learning_rate),
  )

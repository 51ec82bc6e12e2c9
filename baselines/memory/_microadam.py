"""MicroAdam: Adam statistics rebuilt from a window of Top-K gradients, with a 4-bit error
feedback buffer (Modoranu et al., 2024)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def quantize_4bit(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Min-max 4-bit quantization of `x` (flattened), two codes packed per uint8.

  Returns `(packed, lo, hi)`: codes `round((x - lo) / (hi - lo) * 15)` in [0, 15]."""
  flat = x.reshape(-1).astype(jnp.float32)
  lo, hi = jnp.min(flat), jnp.max(flat)
  span = jnp.where(hi > lo, hi - lo, 1.0)
  q = jnp.clip(jnp.round((flat - lo) / span * 15.0), 0, 15).astype(jnp.uint8)
  q = jnp.pad(q, (0, flat.size % 2)).reshape(-1, 2)
  return q[:, 0] | (q[:, 1] << 4), lo, hi


def dequantize_4bit(packed: jax.Array, lo: jax.Array, hi: jax.Array, size: int) -> jax.Array:
  """The float32 vector of length `size` that `quantize_4bit` encoded."""
  q = jnp.stack([packed & 15, packed >> 4], axis=1).reshape(-1)[:size].astype(jnp.float32)
  return lo + q * (jnp.where(hi > lo, hi - lo, 0.0) / 15.0)


class ScaleByMicroAdamState(NamedTuple):
  """State of `scale_by_microadam`. Per leaf: the error feedback (4-bit codes, min, max) and
  a ring buffer of the last `window` Top-K gradients (indices and values)."""

  count: jax.Array  # int32 step counter
  ef_codes: optax.Updates  # uint8 (ceil(size / 2),): two 4-bit codes per byte
  ef_lo: optax.Updates  # float32 scalar: quantization minimum
  ef_hi: optax.Updates  # float32 scalar: quantization maximum
  indices: optax.Updates  # int32 (window, k): flat indices of the Top-K entries
  values: optax.Updates  # float32 (window, k): their values


def _k(size: int, density: float) -> int:
  return max(1, min(size, math.ceil(density * size)))


def scale_by_microadam(
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  window: int = 10,
  density: float = 0.01,
) -> optax.GradientTransformation:
  r"""The direction of MicroAdam.

  Per tensor (flattened), with $Q$ the 4-bit min-max quantizer and $T_k$ the Top-K:

  .. math::
    a_t = g_t + Q^{-1}(e_t), \quad (I_t, V_t) = T_k(a_t), \quad
    e_{t+1} = Q(a_t \text{ with } a_t[I_t] = 0),

    \mathcal G \leftarrow (I_t, V_t) \text{ in slot } (t-1) \bmod W,

    m_t = (1-β_1) \sum_{j} β_1^{r_j} \,\mathrm{scatter}(I_j, V_j), \quad
    v_t = (1-β_2) \sum_{j} β_2^{r_j} \,\mathrm{scatter}(I_j, V_j^2),

    u_t = \frac{m_t/(1-β_1^t)}{\sqrt{v_t/(1-β_2^t)} + ε},

  where $r_j$ is the age in steps of slot $j$ of the window and $k = \lceil
  \text{density} \cdot d \rceil$. Only $e$ (0.5 byte per entry) and the window
  ($W k$ indices and values) are stored. Here $Q$ uses one min and max per tensor.

  Args:
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.
    window: $W \ge 1$, how many past Top-K gradients are kept.
    density: fraction of entries kept by Top-K, in (0, 1].

  Returns:
    An `optax.GradientTransformation`.

  References:
    Modoranu et al., MicroAdam: Accurate Adaptive Optimization with Low Space Overhead and
    Provable Convergence, NeurIPS 2024, https://arxiv.org/abs/2405.15593
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  if window < 1:
    raise ValueError(f"window must be >= 1, got {window}.")
  if not 0.0 < density <= 1.0:
    raise ValueError(f"density must be in (0, 1], got {density}.")

  def init_fn(params):
    k = lambda p: _k(p.size, density)
    scalar = lambda p: jnp.zeros([], jnp.float32)
    return ScaleByMicroAdamState(
      count=jnp.zeros([], jnp.int32),
      ef_codes=jax.tree.map(lambda p: jnp.zeros(((p.size + 1) // 2,), jnp.uint8), params),
      ef_lo=jax.tree.map(scalar, params),
      ef_hi=jax.tree.map(scalar, params),
      indices=jax.tree.map(lambda p: jnp.zeros((window, k(p)), jnp.int32), params),
      values=jax.tree.map(lambda p: jnp.zeros((window, k(p)), jnp.float32), params),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    slot = (count - 1) % window
    age = ((count - 1 - jnp.arange(window)) % window).astype(jnp.float32)
    w1, w2 = (1.0 - b1) * b1**age, (1.0 - b2) * b2**age
    bc1 = -jnp.expm1(t * math.log(b1)) if b1 > 0 else 1.0
    bc2 = -jnp.expm1(t * math.log(b2)) if b2 > 0 else 1.0

    def leaf(g, codes, lo, hi, idx, val):
      size = g.size
      a = g.reshape(-1).astype(jnp.float32) + dequantize_4bit(codes, lo, hi, size)
      _, top = jax.lax.top_k(jnp.abs(a), idx.shape[1])
      top_val = a[top]
      codes, lo, hi = quantize_4bit(a.at[top].set(0.0))
      idx, val = idx.at[slot].set(top.astype(jnp.int32)), val.at[slot].set(top_val)
      m = jnp.zeros(size, jnp.float32).at[idx.reshape(-1)].add((w1[:, None] * val).reshape(-1))
      v = jnp.zeros(size, jnp.float32).at[idx.reshape(-1)].add((w2[:, None] * val**2).reshape(-1))
      u = (m / bc1) / (jnp.sqrt(v / bc2) + eps)
      return u.reshape(g.shape).astype(g.dtype), codes, lo, hi, idx, val

    leaves, treedef = jax.tree.flatten(updates)
    fields = (state.ef_codes, state.ef_lo, state.ef_hi, state.indices, state.values)
    outs = [
      leaf(*args) for args in zip(leaves, *(treedef.flatten_up_to(f) for f in fields), strict=True)
    ]
    new = [treedef.unflatten([o[i] for o in outs]) for i in range(6)]
    return new[0], ScaleByMicroAdamState(count, *new[1:])

  return optax.GradientTransformation(init_fn, update_fn)


def microadam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  window: int = 10,
  density: float = 0.01,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """MicroAdam with decoupled weight decay; see `scale_by_microadam`.

  Example:
    >>> opt = microadam(learning_rate=1e-4)
  """
  return optax.chain(
    scale_by_microadam(b1=b1, b2=b2, eps=eps, window=window, density=density),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""8-bit Adam: Adam whose moments are stored block-wise quantized with a dynamic tree code
(Dettmers et al., 2021), and the dequantize -> update -> requantize skeleton it shares with
the FP8-moment Adam."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


def dynamic_code(signed: bool) -> np.ndarray:
  """The 256 values of the 8-bit dynamic tree code, sorted, in [-1, 1] (signed) or [0, 1].

  After the sign bit (signed code only), the number `e` of leading zero bits gives the
  decimal exponent `10^-e`; the first one bit is an indicator and the remaining `f` bits
  split [0.1, 1] into `2^f` equal intervals whose midpoints are the fractions. `0` and `1`
  complete the 256 values. Large magnitudes get fine fractions, small ones a wide range.
  """
  bits = 7 if signed else 8
  mags = []
  for e in range(7):
    f = bits - 1 - e
    edges = np.linspace(0.1, 1.0, 2**f + 1)
    mags.append(10.0**-e * (edges[:-1] + edges[1:]) / 2)
  mags = np.concatenate(mags)
  values = [*np.concatenate([mags, -mags] if signed else [mags]).tolist(), 0.0, 1.0]
  assert len(values) == 256, len(values)
  return np.sort(np.asarray(values, np.float32))


class BlockQuantized(NamedTuple):
  """A tensor stored as uint8 indices into a 256-value code, with one float32 absmax per block."""

  codes: jax.Array  # uint8, shape (size,)
  absmax: jax.Array  # float32, shape (ceil(size / block_size),)


def quantize_blockwise(x: jax.Array, code: np.ndarray, block_size: int) -> BlockQuantized:
  """Block-wise quantization of `x` (flattened): each value divided by its block's absmax and
  rounded to the nearest code value."""
  flat = x.reshape(-1).astype(jnp.float32)
  n = flat.size
  blocks = jnp.pad(flat, (0, -n % block_size)).reshape(-1, block_size)
  absmax = jnp.max(jnp.abs(blocks), axis=1)
  normed = blocks / jnp.where(absmax == 0, 1.0, absmax)[:, None]
  thresholds = jnp.asarray((code[1:] + code[:-1]) / 2)
  idx = jnp.searchsorted(thresholds, normed.reshape(-1), method="scan_unrolled")
  return BlockQuantized(codes=idx[:n].astype(jnp.uint8), absmax=absmax)


def dequantize_blockwise(
  q: BlockQuantized, code: np.ndarray, block_size: int, shape: tuple[int, ...]
) -> jax.Array:
  """The float32 tensor of shape `shape` that `q` encodes."""
  values = jnp.asarray(code)[q.codes.astype(jnp.int32)]
  scale = jnp.repeat(q.absmax, block_size)[: values.size]
  return (values * scale).reshape(shape)


class Codec(NamedTuple):
  """How a moment is stored: `encode(x) -> stored`, `decode(stored, shape) -> float32 x`,
  and `applies(param) -> bool` (tensors it does not apply to are stored in float32)."""

  encode: Callable[[jax.Array], Any]
  decode: Callable[[Any, tuple[int, ...]], jax.Array]
  applies: Callable[[jax.Array], bool]


class ScaleByQuantizedAdamState(NamedTuple):
  """State of `scale_by_quantized_adam`: per leaf, the stored (compressed) moments."""

  count: jax.Array  # int32 step counter
  mu: Any  # first moment, per leaf compressed by `codec_m` or float32
  nu: Any  # second moment, per leaf compressed by `codec_v` or float32


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


def scale_by_quantized_adam(
  codec_m: Codec, codec_v: Codec, *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
  r"""Adam with compressed moments: dequantize, update, requantize.

  .. math::
    m_t = β_1 D(Q(m_{t-1})) + (1-β_1) g_t, \quad v_t = β_2 D(Q(v_{t-1})) + (1-β_2) g_t^2,
    \quad u_t = \frac{m_t/(1-β_1^t)}{\sqrt{v_t/(1-β_2^t)} + ε},

  and $Q(m_t)$, $Q(v_t)$ are stored. The update uses the fresh $m_t, v_t$.

  Args:
    codec_m: how the first moment is stored.
    codec_v: how the second moment is stored.
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.

  Returns:
    An `optax.GradientTransformation`.
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def encode(codec, p, x):
    return codec.encode(x) if codec.applies(p) else x

  def decode(codec, p, s):
    return codec.decode(s, p.shape) if codec.applies(p) else s

  def init_fn(params):
    leaves, treedef = jax.tree.flatten(params)
    zeros = [jnp.zeros(p.shape, jnp.float32) for p in leaves]
    return ScaleByQuantizedAdamState(
      count=jnp.zeros([], jnp.int32),
      mu=treedef.unflatten([encode(codec_m, p, z) for p, z in zip(leaves, zeros, strict=True)]),
      nu=treedef.unflatten([encode(codec_v, p, z) for p, z in zip(leaves, zeros, strict=True)]),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    bc1, bc2 = _one_minus_pow(b1, t), _one_minus_pow(b2, t)
    leaves, treedef = jax.tree.flatten(updates)
    outs = []
    for g, ms, vs in zip(
      leaves, treedef.flatten_up_to(state.mu), treedef.flatten_up_to(state.nu), strict=True
    ):
      g32 = g.astype(jnp.float32)
      m = b1 * decode(codec_m, g, ms) + (1.0 - b1) * g32
      v = b2 * decode(codec_v, g, vs) + (1.0 - b2) * g32 * g32
      u = (m / bc1) / (jnp.sqrt(v / bc2) + eps)
      outs.append((u.astype(g.dtype), encode(codec_m, g, m), encode(codec_v, g, v)))
    new = [treedef.unflatten([o[i] for o in outs]) for i in range(3)]
    return new[0], ScaleByQuantizedAdamState(count=count, mu=new[1], nu=new[2])

  return optax.GradientTransformation(init_fn, update_fn)


def blockwise_codec(signed: bool, block_size: int = 2048, min_size: int = 4096) -> Codec:
  """8-bit block-wise dynamic quantization of tensors with at least `min_size` entries."""
  code = dynamic_code(signed)
  return Codec(
    encode=lambda x: quantize_blockwise(x, code, block_size),
    decode=lambda q, shape: dequantize_blockwise(q, code, block_size, shape),
    applies=lambda p: p.size >= min_size,
  )


def scale_by_adam8bit(
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  block_size: int = 2048,
  min_8bit_size: int = 4096,
) -> optax.GradientTransformation:
  r"""The direction of 8-bit Adam with block-wise dynamic quantization.

  Both moments of every tensor with at least `min_8bit_size` entries are stored as uint8
  indices into the dynamic tree code (`dynamic_code`: signed for $m$, unsigned for $v$) with
  one float32 absmax per block of `block_size` entries, about 1.002 bytes per entry per
  moment; smaller tensors keep float32 moments, as in the authors' library. Each step
  dequantizes, applies the Adam update (see `scale_by_quantized_adam`) and requantizes:

  .. math::
    Q(x)_i = \arg\min_j |c_j - x_i / N_b|, \quad N_b = \max_{i \in b} |x_i|, \quad
    D(Q)_i = c_{Q_i} N_b.

  The paper's stable embedding layer is a model change, not part of the optimizer.

  Args:
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.
    block_size: entries per quantization block (> 0).
    min_8bit_size: tensors with fewer entries keep float32 moments (>= 0).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Dettmers, Lewis, Shleifer & Zettlemoyer, 8-bit Optimizers via Block-wise Quantization,
    ICLR 2022, https://arxiv.org/abs/2110.02861
  """
  if block_size < 1:
    raise ValueError(f"block_size must be >= 1, got {block_size}.")
  if min_8bit_size < 0:
    raise ValueError(f"min_8bit_size must be >= 0, got {min_8bit_size}.")
  return scale_by_quantized_adam(
    blockwise_codec(True, block_size, min_8bit_size),
    blockwise_codec(False, block_size, min_8bit_size),
    b1=b1,
    b2=b2,
    eps=eps,
  )


def adam8bit(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  block_size: int = 2048,
  min_8bit_size: int = 4096,
) -> optax.GradientTransformation:
  """8-bit AdamW (decoupled weight decay); see `scale_by_adam8bit`.

  Example:
    >>> opt = adam8bit(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_adam8bit(b1=b1, b2=b2, eps=eps, block_size=block_size, min_8bit_size=min_8bit_size),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

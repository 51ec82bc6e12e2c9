"""Adam with both moments stored in FP8: m in E4M3, v in E5M2 (Fishman et al., 2024)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.memory._adam8bit import Codec, scale_by_quantized_adam

_FORMATS = {"e4m3": jnp.float8_e4m3fn, "e5m2": jnp.float8_e5m2}


class Fp8Scaled(NamedTuple):
  """A tensor stored in an FP8 format with one float32 scale per tensor."""

  values: jax.Array  # float8, the tensor's shape
  scale: jax.Array  # float32 scalar: x = values * scale


def fp8_codec(fmt: str) -> Codec:
  """Per-tensor just-in-time scaled FP8: `scale = amax / fmax`, values rounded to nearest."""
  dtype = _FORMATS[fmt]
  fmax = float(jnp.finfo(dtype).max)

  def encode(x):
    x = x.astype(jnp.float32)
    amax = jnp.max(jnp.abs(x))
    scale = jnp.where(amax == 0, 1.0, amax / fmax)
    return Fp8Scaled(values=jnp.clip(x / scale, -fmax, fmax).astype(dtype), scale=scale)

  def decode(q, shape):
    return (q.values.astype(jnp.float32) * q.scale).reshape(shape)

  return Codec(encode=encode, decode=decode, applies=lambda p: True)


def scale_by_adam_fp8(
  *,
  b1: float = 0.9,
  b2: float = 0.95,
  eps: float = 1e-8,
  m_format: str = "e4m3",
  v_format: str = "e5m2",
) -> optax.GradientTransformation:
  r"""The direction of Adam with FP8 moments.

  Each step dequantizes both moments, applies Adam (see
  `baselines.memory._adam8bit.scale_by_quantized_adam`) and stores them again in FP8 with one
  float32 scale per tensor (about 1 byte per entry per moment):

  .. math::
    s = \max_i |x_i| / x_{\max}^{\mathrm{fmt}}, \quad
    Q(x) = \mathrm{round}_{\mathrm{fmt}}(x / s), \quad D(Q) = Q \cdot s,

  with E4M3 ($x_{\max} = 448$, more mantissa) for $m$ and E5M2 ($x_{\max} = 57344$, more
  range) for $v$.

  Args:
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.
    m_format: FP8 format of the first moment, `"e4m3"` or `"e5m2"`.
    v_format: FP8 format of the second moment, `"e4m3"` or `"e5m2"`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Fishman, Chmiel, Banner & Soudry, Scaling FP8 training to trillion-token LLMs,
    ICLR 2025, https://arxiv.org/abs/2409.12517
  """
  for name, fmt in (("m_format", m_format), ("v_format", v_format)):
    if fmt not in _FORMATS:
      raise ValueError(f"{name} must be one of {sorted(_FORMATS)}, got {fmt!r}.")
  return scale_by_quantized_adam(fp8_codec(m_format), fp8_codec(v_format), b1=b1, b2=b2, eps=eps)


def adam_fp8(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.95,
  eps: float = 1e-8,
  weight_decay: float = 0.1,
  m_format: str = "e4m3",
  v_format: str = "e5m2",
) -> optax.GradientTransformation:
  """AdamW with FP8 moments (decoupled weight decay); see `scale_by_adam_fp8`.

  Example:
    >>> opt = adam_fp8(learning_rate=3e-4)
  """
  return optax.chain(
    scale_by_adam_fp8(b1=b1, b2=b2, eps=eps, m_format=m_format, v_format=v_format),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""SlimAdam: Adam whose second moment is averaged along the low-SNR axes (Kalra et al., 2025)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax

from baselines import axes
from baselines.memory._adam_mini import scale_by_shared_v_adam

Compress = Literal["fan_in", "fan_out", "none"]
_ALLOWED = ("fan_in", "fan_out", "none")


def _axes(p: jax.Array, how: str) -> tuple[int, ...]:
  if p.ndim < 2 or how == "none":
    return ()
  layout = "conv" if p.ndim > 2 else "dense"
  return (
    axes.fan_in_axes(layout, p.ndim) if how == "fan_in" else (axes.fan_out_axis(layout, p.ndim),)
  )


def scale_by_slimadam(
  *,
  compress: Compress | Callable[[optax.Params], Any] = "fan_in",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  r"""The direction of SlimAdam: Adam with $v$ replaced by its mean along chosen axes.

  For a tensor laid out `[..., fan_in, fan_out]` (flax kernels) and $K$ its compression
  axes (`"fan_in"`: all axes but the last; `"fan_out"`: the last; `"none"`: no axis),

  .. math::
    v_t = β_2 v_{t-1} + (1-β_2)\,\mathrm{mean}_K(g_t^2), \quad
    u_t = \frac{m_t/(1-β_1^t)}{\sqrt{v_t/(1-β_2^t)} + ε}.

  The paper picks $K$ per layer from the signal-to-noise ratio
  $\mathrm{SNR}_K(V) = \mathbb E[(\mathrm{mean}_K V)^2 / \mathrm{Var}_K V]$ of Adam's
  second moment measured in a pilot run, compressing where $\mathrm{SNR}_K > 1$; `snr`
  computes that ratio. Vectors and scalars are never compressed.

  Args:
    compress: `"fan_in"`, `"fan_out"` or `"none"` for every tensor with ndim >= 2, or a
      function `params -> pytree of those strings` (one per tensor), like optax masks.
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Kalra, Barkeshli et al., When Can You Get Away with Low Memory Adam?, 2025,
    https://arxiv.org/abs/2503.01843
  """
  if not callable(compress) and compress not in _ALLOWED:
    raise ValueError(f"compress must be one of {_ALLOWED} or a callable, got {compress!r}.")
  if not callable(compress):
    return scale_by_shared_v_adam(lambda p: _axes(p, compress), b1=b1, b2=b2, eps=eps)

  def labels(params):
    choices = jax.tree.map(lambda _, c: c, params, compress(params))
    bad = {c for c in jax.tree.leaves(choices) if c not in _ALLOWED}
    if bad:
      raise ValueError(f"compress(params) must give strings in {_ALLOWED}, got {sorted(bad)}.")
    return choices

  transforms = {
    c: scale_by_shared_v_adam(lambda p, c=c: _axes(p, c), b1=b1, b2=b2, eps=eps) for c in _ALLOWED
  }
  return optax.multi_transform(transforms, labels)


def snr(v: jax.Array, compress: Compress) -> jax.Array:
  """SlimAdam's signal-to-noise ratio of a second moment `v` along the `compress` axes:
  `mean over the other axes of (mean_K v)^2 / var_K v`. Compress where it exceeds 1."""
  axes = _axes(v, compress)
  if not axes:
    return jnp.asarray(jnp.inf)
  mean = jnp.mean(v, axis=axes)
  return jnp.mean(mean**2 / jnp.maximum(jnp.var(v, axis=axes), 1e-30))


def slimadam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  compress: Compress | Callable[[optax.Params], Any] = "fan_in",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """SlimAdam with decoupled weight decay; see `scale_by_slimadam`.

  Example:
    >>> opt = slimadam(learning_rate=1e-3, compress="fan_in")
  """
  return optax.chain(
    scale_by_slimadam(compress=compress, b1=b1, b2=b2, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

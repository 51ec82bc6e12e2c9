r"""Row and column factors of a non-negative matrix statistic (Adafactor's factorization).

Shared by CAME and AdaLomo. For a tensor `x` with `ndim >= 2`, the factored statistic keeps
the means over its last axis (`row`, shape `x.shape[:-1]`) and over its second-to-last axis
(`col`, shape `x.shape[:-2] + x.shape[-1:]`); leading axes are batch axes. The rank-1
reconstruction is

.. math::
  \hat V_{ij} = \frac{r_i c_j}{\mathrm{mean}_i r_i},

which equals `R C / sum(R)` with row and column *sums* (Shazeer & Stern, 2018).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def is_factored(x: jax.Array) -> bool:
  """Whether `x` gets row and column factors (matrices and higher-rank tensors)."""
  return x.ndim >= 2


def zeros_factors(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Zero row and column factors of `x`, in float32."""
  return (
    jnp.zeros(x.shape[:-1], jnp.float32),
    jnp.zeros(x.shape[:-2] + x.shape[-1:], jnp.float32),
  )


def ema_factors(
  factors: tuple[jax.Array, jax.Array], x: jax.Array, decay: jax.typing.ArrayLike
) -> tuple[jax.Array, jax.Array]:
  """`decay * factors + (1 - decay) * (mean over the last axis, mean over the second-to-last)`."""
  row, col = factors
  return (
    decay * row + (1.0 - decay) * jnp.mean(x, axis=-1),
    decay * col + (1.0 - decay) * jnp.mean(x, axis=-2),
  )


def rsqrt_factored(factors: tuple[jax.Array, jax.Array]) -> jax.Array:
  """`1 / sqrt(V̂)` of the rank-1 reconstruction `V̂_ij = r_i c_j / mean(r)`."""
  row, col = factors
  row_factor = jax.lax.rsqrt(row / jnp.mean(row, axis=-1, keepdims=True))
  return row_factor[..., None] * jax.lax.rsqrt(col)[..., None, :]


def rms(x: jax.Array) -> jax.Array:
  """Root mean square of all entries of `x`."""
  return jnp.sqrt(jnp.mean(jnp.square(x)))

"""SMMF: square-matricized momentum factorization (Park & Lee, 2024)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def square_shape(size: int) -> tuple[int, int]:
  """The near-square matrix shape `(size // k, k)` with `k` the largest divisor <= sqrt(size)."""
  k = max(i for i in range(1, math.isqrt(max(size, 1)) + 1) if size % i == 0)
  return (size // k, k)


def _nnmf(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Rank-1 non-negative factors of a non-negative matrix: row sums and column sums, the
  shorter one divided by the total so that `outer(r, c)` reconstructs `r_i c_j / sum(x)`."""
  r, c = jnp.sum(x, axis=1), jnp.sum(x, axis=0)
  total = jnp.sum(r)
  total = jnp.where(total == 0, 1.0, total)
  return (r / total, c) if x.shape[0] < x.shape[1] else (r, c / total)


class ScaleBySmmfState(NamedTuple):
  """State of `scale_by_smmf`: per tensor, factors of its near-square matricization."""

  count: jax.Array  # int32 step counter
  m_factors: optax.Updates  # per leaf (row, col) factors of |m|, float32
  m_sign: optax.Updates  # per leaf the sign bits of m (m > 0), packed 8 per uint8
  v_factors: optax.Updates  # per leaf (row, col) factors of v, float32


def scale_by_smmf(
  *,
  b1: float = 0.9,
  growth_rate: float = 0.999,
  decay_rate: float = -0.5,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  r"""The direction of SMMF.

  Every tensor (bias, matrix, conv kernel) is reshaped to its near-square matrix $\hat G$
  of shape $(\hat n, \hat m)$, $\hat n \hat m = $ size, $\hat m$ the largest divisor of the
  size not above its root. With $\mathrm{NNMF}(X) = (X 1, 1^\top X)$ and the rank-1
  reconstruction $\tilde X = r c^\top / 1^\top r$:

  .. math::
    β_{1,t} = β_1 λ^{t-1}, \quad β_{2,t} = 1 - t^{γ},

    M_{t-1} = S_{t-1} \odot \widetilde{|M|}_{t-1}, \quad V_{t-1} = \tilde V_{t-1},

    M_t = β_{1,t} M_{t-1} + (1-β_{1,t}) \hat G_t, \quad
    V_t = β_{2,t} V_{t-1} + (1-β_{2,t}) \hat G_t^2,

    u_t = M_t / (\sqrt{V_t} + ε),

  then $M_t$ is stored as its sign bits $S_t = \mathrm{sign}(M_t)$ (1 bit per entry, packed
  into uint8) and $\mathrm{NNMF}(|M_t|)$, and $V_t$ as $\mathrm{NNMF}(V_t)$. There is no
  bias correction ($β_{2,1} = 0$).

  Args:
    b1: $β_1$, the first-moment decay, in [0, 1].
    growth_rate: $λ$, in [0, 1]: $β_{1,t}$ shrinks by $λ$ each step.
    decay_rate: $γ$, in [-1, 0]: $β_{2,t} = 1 - t^{γ}$.
    eps: added to $\sqrt{V_t}$.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Park & Lee, SMMF: Square-Matricized Momentum Factorization for Memory-Efficient
    Optimization, AAAI 2025, https://arxiv.org/abs/2412.08894
  """
  if not 0.0 <= b1 <= 1.0:
    raise ValueError(f"b1 must be in [0, 1], got {b1}.")
  if not 0.0 <= growth_rate <= 1.0:
    raise ValueError(f"growth_rate must be in [0, 1], got {growth_rate}.")
  if not -1.0 <= decay_rate <= 0.0:
    raise ValueError(f"decay_rate must be in [-1, 0], got {decay_rate}.")

  def zero_factors(p):
    n, m = square_shape(p.size)
    return (jnp.zeros((n,), jnp.float32), jnp.zeros((m,), jnp.float32))

  def init_fn(params):
    leaves, treedef = jax.tree.flatten(params)
    return ScaleBySmmfState(
      count=jnp.zeros([], jnp.int32),
      m_factors=treedef.unflatten([zero_factors(p) for p in leaves]),
      m_sign=jax.tree.map(lambda p: jnp.zeros(((p.size + 7) // 8,), jnp.uint8), params),
      v_factors=treedef.unflatten([zero_factors(p) for p in leaves]),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    beta_m = b1 * growth_rate ** (t - 1.0)
    beta_v = 1.0 - t**decay_rate
    leaves, treedef = jax.tree.flatten(updates)
    outs = []
    for g, mf, sign, vf in zip(
      leaves,
      treedef.flatten_up_to(state.m_factors),
      treedef.flatten_up_to(state.m_sign),
      treedef.flatten_up_to(state.v_factors),
      strict=True,
    ):
      shape = square_shape(g.size)
      g2 = g.astype(jnp.float32).reshape(shape)
      positive = jnp.unpackbits(sign)[: g.size].reshape(shape).astype(bool)
      m_abs = jnp.outer(*mf)
      m = beta_m * jnp.where(positive, m_abs, -m_abs) + (1.0 - beta_m) * g2
      v = beta_v * jnp.outer(*vf) + (1.0 - beta_v) * g2 * g2
      direction = (m / (jnp.sqrt(v) + eps)).reshape(g.shape).astype(g.dtype)
      outs.append((direction, _nnmf(jnp.abs(m)), jnp.packbits((m > 0).reshape(-1)), _nnmf(v)))
    new = [treedef.unflatten([o[i] for o in outs]) for i in range(4)]
    return new[0], ScaleBySmmfState(count=count, m_factors=new[1], m_sign=new[2], v_factors=new[3])

  return optax.GradientTransformation(init_fn, update_fn)


def smmf(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  growth_rate: float = 0.999,
  decay_rate: float = -0.5,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """SMMF with decoupled weight decay (the authors' `adamw` mode); see `scale_by_smmf`.

  Example:
    >>> opt = smmf(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_smmf(b1=b1, growth_rate=growth_rate, decay_rate=decay_rate, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

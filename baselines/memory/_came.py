"""CAME: confidence-guided adaptive memory-efficient optimization (Luo et al., 2023)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.memory import factored as fac


class ScaleByCameState(NamedTuple):
  """State of `scale_by_came`. Per leaf, `v` and `res` are `(row, col)` factors for tensors
  with `ndim >= 2`; vectors and scalars keep a full `v` and no `res`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment of the clipped update, float32
  v: Any  # factored (or full) second moment of the gradient
  res: Any  # factored instability (confidence) statistic, None for vectors


def scale_by_came(
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  b3: float = 0.9999,
  eps1: float = 1e-30,
  eps2: float = 1e-16,
  clipping_threshold: float = 1.0,
) -> optax.GradientTransformation:
  r"""The direction of CAME.

  Per tensor $G$ with $\mathrm{ndim} \ge 2$ (factored over its last two axes):

  .. math::
    r_t = β_2 r_{t-1} + (1-β_2)\,\mathrm{mean}_{-1}(G^2 + ε_1), \quad
    c_t = β_2 c_{t-1} + (1-β_2)\,\mathrm{mean}_{-2}(G^2 + ε_1), \quad
    V_t = r_t c_t / \mathrm{mean}(r_t),

    U_t = G / \sqrt{V_t}, \quad \hat U_t = U_t / \max(1, \mathrm{RMS}(U_t)/d), \quad
    m_t = β_1 m_{t-1} + (1-β_1) \hat U_t,

    \mathcal U_t = (\hat U_t - m_t)^2 + ε_2, \quad
    R_t, C_t = \text{the same factored EMA of } \mathcal U_t \text{ with } β_3, \quad
    S_t = R_t C_t / \mathrm{mean}(R_t), \quad
    u_t = m_t / \sqrt{S_t}.

  Vectors and scalars keep a full $V_t$ and return $u_t = m_t$ (no confidence factor), as
  in the authors' code. There is no bias correction.

  Args:
    b1: $β_1$, decay of the first moment, in [0, 1).
    b2: $β_2$, decay of the factored second moment, in [0, 1).
    b3: $β_3$, decay of the factored instability, in [0, 1).
    eps1: $ε_1$, added to $G^2$.
    eps2: $ε_2$, added to the instability.
    clipping_threshold: $d > 0$, the update-RMS clipping threshold.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Luo et al., CAME: Confidence-guided Adaptive Memory Efficient Optimization, ACL 2023,
    https://arxiv.org/abs/2307.02047
  """
  for name, value in (("b1", b1), ("b2", b2), ("b3", b3)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  if not clipping_threshold > 0:
    raise ValueError(f"clipping_threshold must be > 0, got {clipping_threshold}.")

  def init_fn(params):
    leaves, treedef = jax.tree.flatten(params)
    v = [fac.zeros_factors(p) if fac.is_factored(p) else jnp.zeros(p.shape) for p in leaves]
    res = [fac.zeros_factors(p) if fac.is_factored(p) else None for p in leaves]
    return ScaleByCameState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
      v=treedef.unflatten(v),
      res=treedef.unflatten(res),
    )

  def leaf(g, mu, v, res):
    g32 = g.astype(jnp.float32)
    sq = g32 * g32 + eps1
    if res is None:
      v = b2 * v + (1.0 - b2) * sq
      u = g32 * jax.lax.rsqrt(v)
    else:
      v = fac.ema_factors(v, sq, b2)
      u = g32 * fac.rsqrt_factored(v)
    u = u / jnp.maximum(1.0, fac.rms(u) / clipping_threshold)
    mu = b1 * mu + (1.0 - b1) * u
    if res is None:
      return mu.astype(g.dtype), mu, v, None
    res = fac.ema_factors(res, jnp.square(u - mu) + eps2, b3)
    return (mu * fac.rsqrt_factored(res)).astype(g.dtype), mu, v, res

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    outs = [
      leaf(*args)
      for args in zip(
        leaves,
        treedef.flatten_up_to(state.mu),
        treedef.flatten_up_to(state.v),
        treedef.flatten_up_to(state.res),
        strict=True,
      )
    ]
    new = [treedef.unflatten(list(x)) for x in zip(*outs, strict=True)] if outs else [updates] * 4
    return new[0], ScaleByCameState(
      count=optax.safe_increment(state.count), mu=new[1], v=new[2], res=new[3]
    )

  return optax.GradientTransformation(init_fn, update_fn)


def came(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  b3: float = 0.9999,
  eps1: float = 1e-30,
  eps2: float = 1e-16,
  clipping_threshold: float = 1.0,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """CAME with decoupled weight decay: `p <- p - lr (u_t + weight_decay p)`; see
  `scale_by_came`.

  Example:
    >>> opt = came(learning_rate=2e-4)
  """
  return optax.chain(
    scale_by_came(b1=b1, b2=b2, b3=b3, eps1=eps1, eps2=eps2, clipping_threshold=clipping_threshold),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

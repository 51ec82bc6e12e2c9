"""AdaLomo: LOMO with an adaptive, factored learning rate (Lv et al., 2023)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.memory import factored as fac


class ScaleByAdaLomoState(NamedTuple):
  """State of `scale_by_adalomo`. Per leaf, `v` is `(row, col)` factors for tensors with
  `ndim >= 2` and a full array for vectors and scalars."""

  count: jax.Array  # int32 step counter
  v: Any  # factored (or full) second moment


def scale_by_adalomo(
  *,
  decay_rate: float = 0.8,
  eps1: float = 1e-30,
  eps2: float = 1e-3,
  clipping_threshold: float = 1.0,
  scale_parameter: bool = True,
) -> optax.GradientTransformation:
  r"""The direction of AdaLomo, in units of the learning rate.

  Per tensor $G$ at step $t$ (factored over its last two axes when $\mathrm{ndim} \ge 2$):

  .. math::
    β_t = 1 - t^{-\text{decay\_rate}}, \quad
    r_t = β_t r_{t-1} + (1-β_t)\,\mathrm{mean}_{-1}(G^2 + ε_1), \quad
    c_t = β_t c_{t-1} + (1-β_t)\,\mathrm{mean}_{-2}(G^2 + ε_1),

    V_t = r_t c_t / \mathrm{mean}(r_t), \quad U_t = G / \sqrt{V_t}, \quad
    u_t = \frac{U_t}{\max(1, \mathrm{RMS}(U_t)/d)} \cdot \max(ε_2, \mathrm{RMS}(θ_{t-1})).

  Vectors and scalars keep a full $V_t$. The last factor (grouped update normalization by
  the parameter's RMS) is dropped when `scale_parameter=False`; it needs `params`.

  LOMO and AdaLomo fuse this update into the backward pass so that no full gradient is
  ever stored. That is a property of how the step is executed, not of the rule: in JAX,
  jit the gradient and the update in one step with donated buffers and XLA frees each
  gradient once its update is applied.

  Args:
    decay_rate: the exponent of $β_t = 1 - t^{-\text{decay\_rate}}$, > 0.
    eps1: $ε_1$, added to $G^2$.
    eps2: $ε_2$, the floor on the parameter RMS.
    clipping_threshold: $d > 0$, the update-RMS clipping threshold.
    scale_parameter: multiply by $\max(ε_2, \mathrm{RMS}(θ))$.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Lv et al., AdaLomo: Low-memory Optimization with Adaptive Learning Rate, 2023,
    https://arxiv.org/abs/2310.10195
  """
  if not decay_rate > 0:
    raise ValueError(f"decay_rate must be > 0, got {decay_rate}.")
  if not clipping_threshold > 0:
    raise ValueError(f"clipping_threshold must be > 0, got {clipping_threshold}.")

  def init_fn(params):
    leaves, treedef = jax.tree.flatten(params)
    v = [fac.zeros_factors(p) if fac.is_factored(p) else jnp.zeros(p.shape) for p in leaves]
    return ScaleByAdaLomoState(count=jnp.zeros([], jnp.int32), v=treedef.unflatten(v))

  def update_fn(updates, state, params=None):
    if scale_parameter and params is None:
      raise ValueError("scale_by_adalomo(scale_parameter=True) needs `params`.")
    count = optax.safe_increment(state.count)
    beta = 1.0 - jnp.exp(-decay_rate * jnp.log(count.astype(jnp.float32)))
    leaves, treedef = jax.tree.flatten(updates)
    p_leaves = treedef.flatten_up_to(params) if scale_parameter else [None] * len(leaves)
    outs, vs = [], []
    for g, v, p in zip(leaves, treedef.flatten_up_to(state.v), p_leaves, strict=True):
      g32 = g.astype(jnp.float32)
      sq = g32 * g32 + eps1
      if fac.is_factored(g):
        v = fac.ema_factors(v, sq, beta)
        u = g32 * fac.rsqrt_factored(v)
      else:
        v = beta * v + (1.0 - beta) * sq
        u = g32 * jax.lax.rsqrt(v)
      u = u / jnp.maximum(1.0, fac.rms(u) / clipping_threshold)
      if scale_parameter:
        u = u * jnp.maximum(eps2, fac.rms(p.astype(jnp.float32)))
      outs.append(u.astype(g.dtype))
      vs.append(v)
    return treedef.unflatten(outs), ScaleByAdaLomoState(count=count, v=treedef.unflatten(vs))

  return optax.GradientTransformation(init_fn, update_fn)


def adalomo(
  learning_rate: optax.ScalarOrSchedule,
  *,
  decay_rate: float = 0.8,
  eps1: float = 1e-30,
  eps2: float = 1e-3,
  clipping_threshold: float = 1.0,
  scale_parameter: bool = True,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AdaLomo with decoupled weight decay: `p <- p - lr (u_t + weight_decay p)`; see
  `scale_by_adalomo`.

  Example:
    >>> opt = adalomo(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_adalomo(
      decay_rate=decay_rate,
      eps1=eps1,
      eps2=eps2,
      clipping_threshold=clipping_threshold,
      scale_parameter=scale_parameter,
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

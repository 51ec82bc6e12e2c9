"""AdaShift: adaptive steps from temporally shifted gradients (Zhou et al., 2019)."""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

Reduce = Literal["max", "none"]
_REDUCES = ("max", "none")


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByAdaShiftState(NamedTuple):
  """State of `scale_by_adashift`."""

  count: jax.Array  # int32 step counter
  grads: optax.Updates  # the last `keep_num` gradients, oldest first, shape (n, *param.shape)
  nu: optax.Updates  # second moment of the shifted gradients (a scalar per tensor for "max")


def scale_by_adashift(
  *,
  keep_num: int = 10,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-10,
  reduce: Reduce = "max",
) -> optax.GradientTransformation:
  r"""The direction of AdaShift.

  With `n = keep_num`, at step `t > n`:

  .. math::
    m_t = \frac{\sum_{i=0}^{n-1} β_1^i g_{t-i}}{\sum_{i=0}^{n-1} β_1^i}, \quad
    v_t = β_2 v_{t-1} + (1-β_2)\, φ(g_{t-n}^2), \quad
    u_t = \frac{m_t}{\sqrt{v_t / (1-β_2^{t-n})} + ε},

  where `φ` is the max over the whole tensor (`reduce="max"`, the paper's spatial operation)
  or the identity (`"none"`). `v_t` only sees the gradient `n` steps old, so it is
  decorrelated from the gradients in `m_t`. The first `n` steps only fill the buffer and
  return zero updates.

  Args:
    keep_num: `n >= 1`, the shift (and the length of the window of `m_t`).
    b1: `β_1`, in [0, 1], the decay of the window weights.
    b2: `β_2`, in [0, 1).
    eps: added to the denominator.
    reduce: `"max"` or `"none"`, the spatial operation `φ`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Zhou, Zhang, Zhuang, Liu & Yu, AdaShift: Decorrelation and Convergence of Adaptive
    Learning Rate Methods, ICLR 2019, https://arxiv.org/abs/1810.00143
  """
  if reduce not in _REDUCES:
    raise ValueError(f"reduce must be one of {_REDUCES}, got {reduce!r}.")
  if not (isinstance(keep_num, int) and keep_num >= 1):
    raise ValueError(f"keep_num must be an int >= 1, got {keep_num!r}.")
  if not 0.0 <= b1 <= 1.0:
    raise ValueError(f"b1 must be in [0, 1], got {b1}.")
  if not 0.0 <= b2 < 1.0:
    raise ValueError(f"b2 must be in [0, 1), got {b2}.")
  raw = [b1 ** (keep_num - 1 - i) for i in range(keep_num)]  # oldest first
  weights = jnp.asarray([w / sum(raw) for w in raw], jnp.float32)

  def phi(sq):
    return jnp.max(sq) if reduce == "max" else sq

  def init_fn(params):
    return ScaleByAdaShiftState(
      count=jnp.zeros([], jnp.int32),
      grads=jax.tree.map(lambda p: jnp.zeros((keep_num, *p.shape), p.dtype), params),
      nu=jax.tree.map(lambda p: jnp.zeros_like(phi(p)), params),
    )

  def update_fn(updates, state, params=None):
    del params
    active = state.count >= keep_num  # this is step t = count + 1 > n
    k = jnp.maximum(state.count - keep_num + 1, 1).astype(jnp.float32)  # t - n
    oldest = jax.tree.map(lambda b: b[0], state.grads)
    grads = jax.tree.map(
      lambda b, g: jnp.concatenate([b[1:], g[None].astype(b.dtype)]), state.grads, updates
    )
    nu = jax.tree.map(
      lambda v, o: jnp.where(active, b2 * v + (1.0 - b2) * phi(jnp.square(o)), v).astype(v.dtype),
      state.nu,
      oldest,
    )

    def direction(b, v, g):
      m = jnp.tensordot(weights, b.astype(jnp.float32), axes=1)
      u = m / (jnp.sqrt(v / _one_minus_pow(b2, k)) + eps)
      return jnp.where(active, u, 0.0).astype(g.dtype)

    return jax.tree.map(direction, grads, nu, updates), ScaleByAdaShiftState(
      count=optax.safe_increment(state.count), grads=grads, nu=nu
    )

  return optax.GradientTransformation(init_fn, update_fn)


def adashift(
  learning_rate: optax.ScalarOrSchedule,
  *,
  keep_num: int = 10,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-10,
  reduce: Reduce = "max",
) -> optax.GradientTransformation:
  """AdaShift; see `scale_by_adashift`.

  Example:
    >>> opt = adashift(learning_rate=1e-2)
  """
  return optax.chain(
    scale_by_adashift(keep_num=keep_num, b1=b1, b2=b2, eps=eps, reduce=reduce),
    optax.scale_by_learning_rate(learning_rate),
  )

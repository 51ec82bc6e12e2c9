"""Adam-mini (Zhang et al., 2024), and the shared-second-moment Adam it is an instance of.

`scale_by_shared_v_adam` is Adam whose second moment is shared inside blocks of entries:
the EMA is taken of the mean (or sum) of $g^2$ over the block. Adam-mini, SlimAdam, Coupled
Adam and Subset-Norm differ only in which axes of each tensor form a block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

AxesFn = Callable[[jax.Array], tuple[int, ...]]


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleBySharedVAdamState(NamedTuple):
  """State of `scale_by_shared_v_adam` (and of Adam-mini, SlimAdam, Coupled Adam, Subset-Norm)."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment, float32, full size
  nu: optax.Updates  # second moment per block: the gradient's shape with block axes of size 1


def scale_by_shared_v_adam(
  axes_fn: AxesFn,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  reduce: Literal["mean", "sum"] = "mean",
) -> optax.GradientTransformation:
  r"""Adam with one second-moment entry per block of coordinates.

  With $B$ the axes `axes_fn(param)` of a tensor (one block per index of the other axes),

  .. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t, \quad
    v_t = β_2 v_{t-1} + (1-β_2)\,\mathrm{reduce}_B(g_t^2), \quad
    u_t = \frac{m_t / (1-β_1^t)}{\sqrt{v_t / (1-β_2^t)} + ε},

  with `reduce` the mean or the sum over $B$ and $v_t$ broadcast back over $B$. `axes_fn`
  returning `()` gives Adam on that tensor.

  Args:
    axes_fn: `param -> tuple of axes` shared by one second-moment entry.
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.
    reduce: `"mean"` or `"sum"` of $g^2$ over a block.

  Returns:
    An `optax.GradientTransformation`.
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  if reduce not in ("mean", "sum"):
    raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}.")
  reducer = jnp.mean if reduce == "mean" else jnp.sum

  def block_shape(p):
    axes = {a % p.ndim for a in axes_fn(p)} if p.ndim else set()
    return tuple(1 if i in axes else n for i, n in enumerate(p.shape))

  def init_fn(params):
    return ScaleBySharedVAdamState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
      nu=jax.tree.map(lambda p: jnp.zeros(block_shape(p), jnp.float32), params),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    bc1, bc2 = _one_minus_pow(b1, t), _one_minus_pow(b2, t)

    def moments(g, m, v):
      g32 = g.astype(jnp.float32)
      axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, v.shape, strict=True)) if a != b)
      sq = reducer(g32 * g32, axis=axes, keepdims=True) if axes else g32 * g32
      return b1 * m + (1.0 - b1) * g32, b2 * v + (1.0 - b2) * sq

    leaves, treedef = jax.tree.flatten(updates)
    mv = [
      moments(*args)
      for args in zip(
        leaves, treedef.flatten_up_to(state.mu), treedef.flatten_up_to(state.nu), strict=True
      )
    ]
    mu = treedef.unflatten([m for m, _ in mv])
    nu = treedef.unflatten([v for _, v in mv])
    direction = jax.tree.map(
      lambda g, m, v: ((m / bc1) / (jnp.sqrt(v / bc2) + eps)).astype(g.dtype), updates, mu, nu
    )
    return direction, ScaleBySharedVAdamState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def scale_by_adam_mini(
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  neuron_axis: int | None = -1,
) -> optax.GradientTransformation:
  r"""The direction of Adam-mini: one second-moment scalar per block.

  Default partition (the paper's rule for layers other than embeddings and Q/K): a tensor
  with $\mathrm{ndim} \ge 2$ gets one block per *output neuron*, the index along
  `neuron_axis` (`-1` for a kernel laid out `[..., fan_in, fan_out]`, as in flax);
  vectors and scalars (biases, norms) are one block each. `neuron_axis=None` makes every
  tensor one block. Embeddings and output layers, which the paper keeps at full Adam, and
  Q/K heads (one block per head) are routed with `optax.multi_transform` (e.g. `optax.adam`
  for embeddings), or with `scale_by_shared_v_adam` and a custom `axes_fn`.

  .. math::
    v_{t,b} = β_2 v_{t-1,b} + (1-β_2)\,\mathrm{mean}_{i \in b}(g_{t,i}^2), \quad
    u_t = \frac{m_t / (1-β_1^t)}{\sqrt{v_{t,b} / (1-β_2^t)} + ε}.

  Args:
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.
    neuron_axis: the output-neuron axis of tensors with ndim >= 2, or None.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Zhang et al., Adam-mini: Use Fewer Learning Rates To Gain More, ICLR 2025,
    https://arxiv.org/abs/2406.16793
  """

  def axes_fn(p):
    if p.ndim < 2 or neuron_axis is None:
      return tuple(range(p.ndim))
    keep = neuron_axis % p.ndim
    return tuple(i for i in range(p.ndim) if i != keep)

  return scale_by_shared_v_adam(axes_fn, b1=b1, b2=b2, eps=eps, reduce="mean")


def adam_mini(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.1,
  neuron_axis: int | None = -1,
) -> optax.GradientTransformation:
  """Adam-mini with decoupled weight decay; see `scale_by_adam_mini`.

  Example:
    >>> opt = adam_mini(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_adam_mini(b1=b1, b2=b2, eps=eps, neuron_axis=neuron_axis),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

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

from baselines import axes

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


_BIAS_NAMES = ("b", "bias")


def adam_mini_labels(params: optax.Params, embedding: str = "token") -> optax.Params:
  """Each leaf's Adam-mini block rule, from its `baselines.axes` layout and path:
  `"neuron"` (dense / convolution kernels: one block per output channel), `"token"`
  (embeddings with `embedding="token"`: one block per row), `"adam"` (biases, named `b` or
  `bias`, and embeddings with `embedding="adam"`: one entry per coordinate), `"tensor"`
  (other vectors, e.g. norm scales, and scalars: one block)."""

  def label(path, p):
    names = axes.path_names(path)
    layout = axes.detect(jnp.shape(p), names)
    if layout in ("dense", "conv"):
      return "neuron"
    if layout == "embedding":
      return "token" if embedding == "token" else "adam"
    if layout == "vector" and names and names[-1] in _BIAS_NAMES:
      return "adam"
    return "tensor"

  return jax.tree_util.tree_map_with_path(label, params)


def decayed(params: optax.Params) -> optax.Params:
  """The weight-decay mask of Adam-mini: True for tensors of two or more axes; vectors
  (biases, norm scales and offsets) and scalars are not decayed."""
  return jax.tree.map(lambda layout: layout not in ("vector", "scalar"), axes.layouts(params))


def scale_by_adam_mini(
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  embedding: Literal["token", "adam"] = "token",
) -> optax.GradientTransformation:
  r"""The direction of Adam-mini: one second-moment scalar per block.

  The partition (`adam_mini_labels`, layouts of `baselines.axes`), after the paper's
  Algorithm 3 and the authors' code (zyushun/Adam-mini `adam_mini/adam_mini.py`, v1.1.1):

  - dense and convolution kernels: one block per output neuron (the last axis; the
    authors' rows of PyTorch's ``(out, in)``), their rule for values, attention
    projections, MLPs and the output layer;
  - embeddings (`(vocab, d)`, detected by name: `embed`, `wte`, `pos`, ...): one block per
    token (row) with `embedding="token"`, the authors' rule; full Adam with
    `embedding="adam"`, the paper's first version. Position tables are embeddings here;
    the authors' name list (`embed`, `embd`, `wte`) sends GPT-2's `wpe` to one block;
  - biases (vectors named `b` / `bias`): full Adam, as the authors' `adam_block_names`;
  - other vectors (norm scales) and scalars: one block per tensor.

  Query and key projections (one block per head in the paper) need the head layout; route
  them with `optax.multi_transform` or `scale_by_shared_v_adam`.

  .. math::
    v_{t,b} = β_2 v_{t-1,b} + (1-β_2)\,\mathrm{mean}_{i \in b}(g_{t,i}^2), \quad
    u_t = \frac{m_t / (1-β_1^t)}{\sqrt{v_{t,b} / (1-β_2^t)} + ε}.

  Args:
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.
    embedding: `"token"` (one block per row) or `"adam"` (per coordinate).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Zhang et al., Adam-mini: Use Fewer Learning Rates To Gain More, ICLR 2025,
    https://arxiv.org/abs/2406.16793
  """
  if embedding not in ("token", "adam"):
    raise ValueError(f"embedding must be 'token' or 'adam', got {embedding!r}.")
  rules = {
    "neuron": lambda p: axes.within_channel_axes("conv" if p.ndim > 2 else "dense", p.ndim),
    "token": lambda p: axes.within_channel_axes("embedding", p.ndim),
    "adam": lambda p: (),
    "tensor": lambda p: tuple(range(p.ndim)),
  }
  return optax.multi_transform(
    {k: scale_by_shared_v_adam(f, b1=b1, b2=b2, eps=eps) for k, f in rules.items()},
    lambda params: adam_mini_labels(params, embedding),
  )


def adam_mini(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.1,
  embedding: Literal["token", "adam"] = "token",
) -> optax.GradientTransformation:
  """Adam-mini with decoupled weight decay on tensors of two or more axes only (`decayed`:
  the authors exempt norms and biases); see `scale_by_adam_mini`.

  Example:
    >>> opt = adam_mini(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_adam_mini(b1=b1, b2=b2, eps=eps, embedding=embedding),
    optax.add_decayed_weights(weight_decay, mask=decayed),
    optax.scale_by_learning_rate(learning_rate),
  )

"""Coupled Adam: one second moment per embedding dimension, shared by all tokens
(Stollenwerk & Stollenwerk, 2025)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from baselines import axes
from baselines.memory._adam_mini import scale_by_shared_v_adam


def scale_by_coupled_adam(
  *,
  mask: Any | Callable[[optax.Params], Any] | None = None,
  vocab_axis: int = 0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  r"""The direction of Coupled Adam.

  For an embedding matrix $E \in \mathbb R^{V \times d}$ (vocabulary along `vocab_axis`),
  Adam's second moment is averaged over the vocabulary, so every token vector is scaled by
  the same per-dimension factor:

  .. math::
    v_{t,j} = β_2 v_{t-1,j} + (1-β_2) \frac1V \sum_{i=1}^{V} g_{t,ij}^2, \quad
    u_{t,ij} = \frac{m_{t,ij}/(1-β_1^t)}{\sqrt{v_{t,j}/(1-β_2^t)} + ε}.

  (The mean over tokens of per-token EMAs is the EMA of the mean, so keeping one $v$ per
  dimension is exact.) Every other tensor gets plain Adam.

  Args:
    mask: which tensors are embeddings: a pytree of bools (a prefix of the params) or a
      function `params -> pytree of bools`, as for optax masks. `None`: the tensors whose
      layout `baselines.axes.layouts` reads as "embedding" (a 2-D tensor whose tree path
      names an embedding); the paper couples the embedding matrix only, never the dense
      kernels.
    vocab_axis: the vocabulary axis of the embedding matrices.
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Stollenwerk & Stollenwerk, Better Embeddings with Coupled Adam, 2025,
    https://arxiv.org/abs/2502.08441
  """
  coupled = scale_by_shared_v_adam(lambda p: (vocab_axis,), b1=b1, b2=b2, eps=eps)
  plain = scale_by_shared_v_adam(lambda p: (), b1=b1, b2=b2, eps=eps)

  def labels(params):
    if mask is None:
      flags = jax.tree.map(lambda layout: layout == "embedding", axes.layouts(params))
    else:
      flags = mask(params) if callable(mask) else mask
      flags = jax.tree.map(lambda _, f: bool(f), params, flags)
    return jax.tree.map(lambda f: "coupled" if f else "plain", flags)

  return optax.multi_transform({"coupled": coupled, "plain": plain}, labels)


def coupled_adam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  mask: Any | Callable[[optax.Params], Any] | None = None,
  vocab_axis: int = 0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """Coupled Adam with decoupled weight decay (Coupled AdamW); see `scale_by_coupled_adam`.

  Example:
    >>> opt = coupled_adam(learning_rate=1e-3, mask=lambda p: {"embed": True, "mlp": False})
  """
  return optax.chain(
    scale_by_coupled_adam(mask=mask, vocab_axis=vocab_axis, b1=b1, b2=b2, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

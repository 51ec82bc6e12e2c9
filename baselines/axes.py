"""Axis conventions of parameter tensors: stated once, used by every rule of `baselines/`.

Parameters are laid out as flax and haiku lay them out (and as `tasks/` builds them), which
is the transpose of PyTorch's ``(out, in)``. A tensor has one of five layouts:

  layout        shape                   channel axis    fan-in axes        matrix view
  ------------  ----------------------  --------------  -----------------  ----------------
  "dense"       (in, out)               -1 (output)     (0,)               (in, out)
  "conv"        (*spatial, in, out)     -1 (output)     all but the last   (prod(spatial)
                HWIO, 3 or more axes                                       * in, out)
  "embedding"   (vocab, d)              0 (the token)   (0,)               (vocab, d)
  "vector"      (n,)                    none            none               none
  "scalar"      ()                      none            none               none

- **Matrix view** (``(fan_in, fan_out)``): every tensor of two or more axes is the matrix
  ``(prod(shape[:-1]), shape[-1])``; the last axis is the output (fan-out) axis, all others
  are merged into the fan-in. An embedding table reads a one-hot token, so its fan-in is the
  vocabulary and its fan-out the width. This is `optax.contrib.muon`'s convention
  (reduction axes first, output axis last).
- **Channel**: the unit a per-channel rule treats separately (AdamP's channel view, Adam-mini's
  blocks). For dense and convolution kernels it is the output channel, whose weight vector is
  the slice ``w[..., j]`` over the fan-in axes; for an embedding it is the token, whose vector
  is the row ``w[v, :]``. These are the units the authors' PyTorch code gets from
  ``x.view(x.size(0), -1)`` on its ``(out, in, ...)`` kernels and ``(vocab, d)`` embeddings.
  A vector or scalar is one unit (the layer view). `within_channel_axes` gives the axes to
  reduce over (with ``keepdims=True``) for one value per channel; `channel_view` the 2-D
  ``(channels, entries)`` array.

**Detection** (`detect`, `layouts`): 0 axes -> "scalar", 1 -> "vector", 3 or more -> "conv"
(so a stacked ``(layers, in, out)`` tensor reads as a 1-D convolution ``(W, I, O)``: pass
your own layouts to treat stacks otherwise), 2 -> "embedding" when its tree path names it an
embedding, else "dense". The path is read from the innermost name outward and the first name
that decides wins: a kernel name (``kernel``, ``w``) means "dense" (a projection inside an
embedding module, ``patch_embed/proj/kernel``); an embedding name (containing ``emb``, or
exactly ``wte``, ``wpe`` or ``pos``: ``embed``, ``embedding``, ``tok_embeddings``, `tasks`'
``pos`` table) means "embedding"; other names (``weight``, ``table``) are skipped. Without a
path a 2-D tensor is "dense".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

Layout = Literal["scalar", "vector", "dense", "conv", "embedding"]
LAYOUTS: tuple[str, ...] = ("scalar", "vector", "dense", "conv", "embedding")

_EMBEDDING_NAME = re.compile(r"emb|^wte$|^wpe$|^pos$")
_KERNEL_NAME = re.compile(r"^(kernel|w)$")


def path_names(path: Sequence[Any]) -> tuple[str, ...]:
  """The lower-case names of a tree path (from `jax.tree_util.tree_map_with_path`), outermost
  first: dict keys, attribute names and sequence indices as strings."""
  out = []
  for k in path:
    name = getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))
    out.append(str(name).lower())
  return tuple(out)


def detect(shape: Sequence[int], names: Sequence[str] = ()) -> Layout:
  """The layout of a tensor of `shape` whose tree path has `names`; see the module docstring.

  Example:
    >>> detect((3, 3, 16, 32))
    'conv'
    >>> detect((100, 64), ("embed",))
    'embedding'
  """
  ndim = len(shape)
  if ndim == 0:
    return "scalar"
  if ndim == 1:
    return "vector"
  if ndim >= 3:
    return "conv"
  for name in reversed([str(n).lower() for n in names]):
    if _KERNEL_NAME.search(name):
      return "dense"
    if _EMBEDDING_NAME.search(name):
      return "embedding"
  return "dense"


def layouts(params: Any) -> Any:
  """Every leaf's layout (`detect` on its shape and path), a tree like `params` of strings.

  Reads only shapes and paths, so it may be called on updates as well as on parameters.
  """
  return jax.tree_util.tree_map_with_path(
    lambda path, p: detect(jnp.shape(p), path_names(path)), params
  )


_NDIM = {"scalar": (0, 0), "vector": (1, 1), "dense": (2, 2), "embedding": (2, 2), "conv": (3, 99)}


def _check(layout: str, ndim: int) -> None:
  """A readable ValueError for an unknown layout or one that cannot have `ndim` axes."""
  if layout not in _NDIM:
    raise ValueError(f"Unknown layout {layout!r}; allowed: {LAYOUTS}.")
  lo, hi = _NDIM[layout]
  if not lo <= ndim <= hi:
    raise ValueError(f"A {layout!r} tensor cannot have {ndim} axes.")


def channel_axis(layout: Layout, ndim: int) -> int | None:
  """The (non-negative) axis that indexes channels: the output axis of dense and convolution
  kernels, the token axis 0 of an embedding; None for vectors and scalars (one unit)."""
  _check(layout, ndim)
  if layout in ("scalar", "vector"):
    return None
  return 0 if layout == "embedding" else ndim - 1


def within_channel_axes(layout: Layout, ndim: int) -> tuple[int, ...]:
  """The axes one channel's weight vector spans: reduce over them (``keepdims=True``) for one
  value per channel. Every axis for vectors and scalars (the whole tensor is one unit)."""
  axis = channel_axis(layout, ndim)
  return tuple(i for i in range(ndim) if i != axis)


def fan_in_axes(layout: Layout, ndim: int) -> tuple[int, ...]:
  """The axes merged into the fan-in of the matrix view: all but the last; () for vectors."""
  _check(layout, ndim)
  return tuple(range(ndim - 1)) if ndim >= 2 else ()


def fan_out_axis(layout: Layout, ndim: int) -> int | None:
  """The fan-out (output) axis of the matrix view: the last; None for vectors and scalars."""
  _check(layout, ndim)
  return ndim - 1 if ndim >= 2 else None


def matrix_shape(shape: Sequence[int]) -> tuple[int, int] | None:
  """``(fan_in, fan_out) = (prod(shape[:-1]), shape[-1])`` for two or more axes, else None.

  The same for every layout of two or more axes (see the module docstring), so it needs no
  layout.
  """
  if len(shape) < 2:
    return None
  return (math.prod(shape[:-1]), shape[-1])


def as_matrix(x: jax.Array) -> jax.Array:
  """`x` as its ``(fan_in, fan_out)`` matrix view; a ValueError for fewer than two axes."""
  shape = matrix_shape(x.shape)
  if shape is None:
    raise ValueError(f"A matrix view needs at least 2 axes; got shape {x.shape}.")
  return x.reshape(shape)


def from_matrix(m: jax.Array, shape: Sequence[int]) -> jax.Array:
  """Undoes `as_matrix`: the ``(fan_in, fan_out)`` array `m` back in `shape`."""
  return m.reshape(tuple(shape))


def channel_view(x: jax.Array, layout: Layout) -> jax.Array:
  """`x` as ``(channels, entries per channel)``: row ``j`` is channel ``j``'s weight vector
  (``w[..., j]`` of a kernel, ``w[v, :]`` of an embedding); one row for vectors and scalars."""
  axis = channel_axis(layout, x.ndim)
  if axis is None:
    return x.reshape(1, -1)
  return jnp.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)


def from_channel_view(v: jax.Array, shape: Sequence[int], layout: Layout) -> jax.Array:
  """Undoes `channel_view`: the ``(channels, entries)`` array `v` back in `shape`."""
  shape = tuple(shape)
  axis = channel_axis(layout, len(shape))
  if axis is None:
    return v.reshape(shape)
  moved = (shape[axis], *shape[:axis], *shape[axis + 1 :])
  return jnp.moveaxis(v.reshape(moved), 0, axis)

"""The projection toolkit shared by the low-rank, subspace and block-coordinate optimizers.

GaLore-family methods (Fira, APOLLO, FRUGAL, Online Subspace Descent, Subspace-Momentum)
keep optimizer state on a projected gradient `R` of a matrix gradient `G`; GWT keeps it on
Haar wavelet coefficients; BAdam and LISA train a few parameter blocks at a time. Everything
they share lives here, written once:

**Which tensors are projected.** A leaf with `ndim >= 2` is a matrix: shape
`(d_1, ..., d_k, n)` is read as `(m, n) = (d_1 ⋯ d_k, n)` (a conv kernel `(h, w, c_in,
c_out)` becomes `(h w c_in, c_out)`). Vectors and scalars are never projected: every method
sends them to its documented full-rank fallback (Adam for the Adam-based ones). A
`lowrank_mask` (a pytree of bools or a callable `params -> pytree of bools`) overrides the
default choice per leaf; a masked-out matrix also takes the fallback.

**Which side is reduced.** As in the GaLore authors' code, the shorter side of `G ∈ R^{m×n}`
is reduced: with `d = min(m, n)` and `r = min(rank, d)`,

- `m >= n` ("right"): `P ∈ R^{n×r}`, `R = G P ∈ R^{m×r}`, back: `R Pᵀ`;
- `m < n` ("left"): `P ∈ R^{m×r}`, `R = Pᵀ G ∈ R^{r×n}`, back: `P R`.

The dimension that is *not* reduced indexes the "channels" of channel-wise scaling (APOLLO,
Fira): rows of `R` for "right", columns for "left".

**Projectors.** `svd_projector` (top-r singular vectors of `G` on the reduced side, each
column's sign fixed so that its largest-magnitude entry is positive, making refreshes
deterministic), `random_projector` (Gaussian with entries `N(0, 1/r)`, APOLLO's; or with
orthonormal columns, FRUGAL's "random"), and `online_pca_step` (one gradient step on
`‖G − P Pᵀ G‖²`, Online Subspace Descent's).

**Refresh.** The projector is an array in the optimizer state. `refresh(count, interval, P,
make)` replaces it by `make()` exactly when `count % interval == 0` (so at steps
1, interval + 1, ... counting from 1), inside `lax.cond`: no Python-side state, one trace.
Random projectors draw from `refresh_key(key, leaf_index, count, interval)`, a key folded
from the state's key, the leaf and the refresh period: the same draw under `jit`, `vmap`
and on re-runs.

**Blocks.** `group_ids` reads a block/layer id per leaf (Python ints, static), and
`cyclic_block` / `sampled_groups` pick the active ones from the step count and the state's
key, inside the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from baselines import axes, linalg

Side = Literal["left", "right"]
MaskOrFn = Any  # pytree of bools, or params -> pytree of bools, or None for the default


class Layout(NamedTuple):
  """Static description of one projected leaf (Python ints only)."""

  shape: tuple[int, ...]  # the leaf's own shape
  m: int  # rows of the matrix view
  n: int  # columns of the matrix view
  side: Side  # "right": P is (n, r); "left": P is (m, r)
  rank: int  # effective rank r = min(rank, min(m, n))

  @property
  def reduced_dim(self) -> int:
    return self.n if self.side == "right" else self.m

  @property
  def projected_shape(self) -> tuple[int, int]:
    return (self.m, self.rank) if self.side == "right" else (self.rank, self.n)


def default_lowrank_mask(params: Any) -> Any:
  """True for every leaf with `ndim >= 2` (matrices and higher-rank tensors)."""
  return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def resolve_mask(mask: MaskOrFn, params: Any) -> list[bool]:
  """The per-leaf (flattened) projection mask: `mask` or the default, as Python bools."""
  tree = default_lowrank_mask(params) if mask is None else mask
  if callable(tree):
    tree = tree(params)
  flags = jax.tree.leaves(tree)
  leaves = jax.tree.leaves(params)
  if len(flags) != len(leaves):
    raise ValueError(f"lowrank_mask has {len(flags)} leaves, params have {len(leaves)}.")
  return [bool(f) and jnp.ndim(p) >= 2 for f, p in zip(flags, leaves, strict=True)]


def layout(shape: tuple[int, ...], rank: int) -> Layout:
  """The matrix view and reduced side of a leaf of `shape` (needs `len(shape) >= 2`)."""
  if len(shape) < 2:
    raise ValueError(f"Only tensors with ndim >= 2 are projected, got shape {shape}.")
  if rank < 1:
    raise ValueError(f"rank must be >= 1, got {rank}.")
  m, n = axes.matrix_shape(shape)
  side: Side = "right" if m >= n else "left"
  return Layout(tuple(shape), m, n, side, min(rank, m, n))


def layouts(params: Any, rank: int, mask: MaskOrFn = None) -> list[Layout | None]:
  """Per flattened leaf: its `Layout` when projected, None for the full-rank fallback."""
  flags = resolve_mask(mask, params)
  return [
    layout(jnp.shape(p), rank) if f else None
    for p, f in zip(jax.tree.leaves(params), flags, strict=True)
  ]


def to_matrix(x: jax.Array, lay: Layout) -> jax.Array:
  return x.reshape(lay.m, lay.n)


def from_matrix(x: jax.Array, lay: Layout) -> jax.Array:
  return x.reshape(lay.shape)


def project(proj: jax.Array, g: jax.Array, side: Side) -> jax.Array:
  """`R = G P` ("right") or `R = Pᵀ G` ("left") for a matrix `g`."""
  return g @ proj if side == "right" else proj.T @ g


def project_back(proj: jax.Array, r: jax.Array, side: Side) -> jax.Array:
  """`R Pᵀ` ("right") or `P R` ("left"): from the subspace back to the matrix."""
  return r @ proj.T if side == "right" else proj @ r


def unzip(rows: list[tuple], width: int) -> tuple[tuple, ...]:
  """Per-leaf rows of state fields -> one tuple per field (also for zero leaves)."""
  return tuple(tuple(row[j] for row in rows) for j in range(width))


def channel_axis(side: Side) -> int:
  """The axis of `R` to reduce over to get one norm per channel (the unreduced side)."""
  return 1 if side == "right" else 0


def channel_norms(x: jax.Array, side: Side, kind: Literal["channel", "tensor"]) -> jax.Array:
  """Norms per channel (kept dims, broadcastable against the matrix) or of the whole tensor."""
  if kind == "tensor":
    return jnp.linalg.norm(x)
  return jnp.linalg.norm(x, axis=channel_axis(side), keepdims=True)


def _fix_signs(vecs: jax.Array) -> jax.Array:
  """Flips each column so that its largest-magnitude entry is positive."""
  idx = jnp.argmax(jnp.abs(vecs), axis=0)
  signs = jnp.sign(jnp.take_along_axis(vecs, idx[None, :], axis=0))
  return vecs * jnp.where(signs == 0, 1.0, signs)


def svd_projector(g: jax.Array, lay: Layout) -> jax.Array:
  """Top-`rank` singular vectors of the matrix `g` on the reduced side, float32, sign-fixed."""
  u, _, vh = linalg.svd(g.astype(jnp.float32))
  vecs = vh[: lay.rank].T if lay.side == "right" else u[:, : lay.rank]
  return _fix_signs(vecs)


def random_projector(
  key: jax.Array, lay: Layout, kind: Literal["gaussian", "orthonormal"] = "gaussian"
) -> jax.Array:
  """A random `(d, r)` projector: entries `N(0, 1/r)`, or orthonormal columns (QR of those)."""
  z = jax.random.normal(key, (lay.reduced_dim, lay.rank), jnp.float32) / math.sqrt(lay.rank)
  if kind == "gaussian":
    return z
  if kind == "orthonormal":
    q, r = linalg.qr(z)
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)
  raise ValueError(f"kind must be 'gaussian' or 'orthonormal', got {kind!r}.")


def init_projector(lay: Layout) -> jax.Array:
  """The projector's slot in the state (zeros; filled at the first refresh)."""
  return jnp.zeros((lay.reduced_dim, lay.rank), jnp.float32)


def refresh_due(count: jax.Array, interval: int) -> jax.Array:
  """True at the steps where the projector is recomputed: `count % interval == 0`.

  `count` is the number of steps taken before this one (0 at the first step).
  """
  return count % interval == 0


def refresh(
  count: jax.Array, interval: int, proj: jax.Array, make: Callable[[], jax.Array]
) -> jax.Array:
  """`make()` when `refresh_due(count, interval)`, else `proj` (one `lax.cond`)."""
  return jax.lax.cond(refresh_due(count, interval), make, lambda: proj)


def refresh_key(key: jax.Array, leaf_index: int, count: jax.Array, interval: int) -> jax.Array:
  """The key of leaf `leaf_index` for the refresh period that step `count` belongs to."""
  return jax.random.fold_in(jax.random.fold_in(key, leaf_index), count // interval)


def pca_loss(proj: jax.Array, g: jax.Array, side: Side) -> jax.Array:
  """The online-PCA reconstruction error `‖G − P Pᵀ G‖²_F` (on the reduced side)."""
  return jnp.sum((g - project_back(proj, project(proj, g, side), side)) ** 2)


def online_pca_step(proj: jax.Array, g: jax.Array, side: Side, lr: float) -> jax.Array:
  """One gradient step on `pca_loss` with respect to `P`, the loss taken on `G / ‖G‖_F`.

  Normalizing `G` leaves the subspace being tracked unchanged and makes `lr` independent
  of the gradient's scale.
  """
  g = g / (jnp.linalg.norm(g) + 1e-30)
  return proj - lr * jax.grad(pca_loss)(proj, g, side)


def limit_norm_growth(
  x: jax.Array, prev_norm: jax.Array, first: jax.Array, gamma: float, eps: float = 1e-8
) -> tuple[jax.Array, jax.Array]:
  """Fira's norm-growth limiter on one tensor; returns the limited `x` and its norm.

  `x ← x / (max(‖x‖ / (prev + ε), γ) / γ)` from the second step on (`first` is False).
  """
  norm = jnp.linalg.norm(x)
  limiter = jnp.where(first, 1.0, jnp.maximum(norm / (prev_norm + eps), gamma) / gamma)
  return x / limiter, norm / limiter


# --------------------------------------------------------------------------------------------
# Haar wavelets (GWT), along the last axis, orthonormal (pywt's "haar").
# --------------------------------------------------------------------------------------------


def haar_dwt(x: jax.Array, levels: int) -> tuple[jax.Array, list[jax.Array]]:
  """`levels` Haar steps along the last axis: the approximation and the details (finest first).

  One step maps pairs `(a, b)` to `((a + b)/√2, (a − b)/√2)`; the last axis must be
  divisible by `2**levels`.
  """
  if x.shape[-1] % (2**levels):
    raise ValueError(f"last axis {x.shape[-1]} is not divisible by 2**levels = {2**levels}.")
  details = []
  for _ in range(levels):
    even, odd = x[..., 0::2], x[..., 1::2]
    details.append((even - odd) / math.sqrt(2.0))
    x = (even + odd) / math.sqrt(2.0)
  return x, details


def haar_idwt(approx: jax.Array, details: list[jax.Array]) -> jax.Array:
  """The inverse of `haar_dwt`."""
  x = approx
  for d in reversed(details):
    even, odd = (x + d) / math.sqrt(2.0), (x - d) / math.sqrt(2.0)
    x = jnp.stack([even, odd], axis=-1).reshape(*x.shape[:-1], 2 * x.shape[-1])
  return x


# --------------------------------------------------------------------------------------------
# Blocks and layers (BAdam, LISA, FRUGAL's blockwise mode).
# --------------------------------------------------------------------------------------------


def group_ids(params: Any, group_fn: Callable[[Any], Any] | None) -> list[int]:
  """One Python int per flattened leaf: `group_fn(params)`'s leaves, or the leaf index."""
  n = len(jax.tree.leaves(params))
  if group_fn is None:
    return list(range(n))
  ids = [int(i) for i in jax.tree.leaves(group_fn(params))]
  if len(ids) != n:
    raise ValueError(f"group_fn returned {len(ids)} ids for {n} parameter leaves.")
  return ids


def cyclic_block(
  count: jax.Array,
  switch_every: int,
  num_blocks: int,
  order: Literal["random", "ascending", "descending"],
  key: jax.Array,
) -> jax.Array:
  """The active block at step `count` (0-based): `switch_every` steps per block, cycling.

  One block-epoch visits every block once, in ascending, descending, or a random order
  redrawn each block-epoch from `key` (random reshuffling).
  """
  slot = count // switch_every
  pos, epoch = slot % num_blocks, slot // num_blocks
  if order == "ascending":
    return pos
  if order == "descending":
    return num_blocks - 1 - pos
  if order == "random":
    return jax.random.permutation(jax.random.fold_in(key, epoch), num_blocks)[pos]
  raise ValueError(f"order must be 'random', 'ascending' or 'descending', got {order!r}.")


def sampled_groups(
  count: jax.Array, period: int, num_groups: int, num_active: int, key: jax.Array
) -> jax.Array:
  """A bool vector over `num_groups`: `num_active` groups drawn without replacement,
  redrawn every `period` steps from `key`."""
  k = jax.random.fold_in(key, count // period)
  chosen = jax.random.permutation(k, num_groups)[: min(num_active, num_groups)]
  return jnp.zeros((num_groups,), bool).at[chosen].set(True)

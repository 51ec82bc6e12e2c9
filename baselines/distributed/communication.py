"""Shared pieces of the distributed, compressed and federated baselines (inventory T6-01..15).

Conventions, one for every method of this family:

- **Workers are a leading array axis.** A factory takes a static `num_workers`. Data-parallel
  methods (a server, replicated parameters: error feedback, EF21, Top-K, DGC, TernGrad,
  sketching, 1-bit Adam, Distributed Lion) take gradients of shape `(num_workers, *p.shape)`
  for parameters `p` and return one update of shape `p.shape` (what the server broadcasts).
  Decentralized and local methods (D-SGD, MoNNA, decentralized Adam, local SGD, FedAvg,
  FedOpt) hold one model per worker: parameters, gradients and updates all have the leading
  worker axis.
- **`num_workers=None` is the single-worker case**: gradients (and parameters) carry no
  worker axis at all; the method runs as with one worker. This is how the generic registry
  checks call these entries.
- **One program, vmapped or sharded.** Per-worker work is `jax.vmap` over the worker axis and
  aggregation is a reduction over it (`mean`, a mixing matrix). The same jitted step runs on
  one device, or with the worker axis sharded over a `jax.sharding.Mesh`
  (`worker_mesh`, `worker_shardings`): XLA inserts the collectives; there is no hand-written
  communication.
- **Communicated bits.** Every state of this family has a float32 scalar field `bits`: the
  bits one worker sent in the last step (a message broadcast to several peers counts once;
  compressed values are counted at 32 bits, indices at ceil(log2 d) bits, signs at 1 bit).
  `communicated_bits(state)` reads it from any (chained) state and `compression_ratio`
  divides it by the 32 bits per coordinate of an uncompressed float32 message.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

WORKERS = "workers"  # mesh axis name of the worker axis


# --------------------------------------------------------------------------------------------
# The worker axis.
# --------------------------------------------------------------------------------------------


def check_num_workers(num_workers: int | None) -> None:
  """Raises ValueError unless `num_workers` is None (single worker) or an int >= 1."""
  if num_workers is None:
    return
  if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
    raise ValueError(
      f"num_workers must be None (no worker axis) or an int >= 1, got {num_workers!r}."
    )


def size(num_workers: int | None) -> int:
  """The length of the worker axis: 1 when `num_workers` is None."""
  return 1 if num_workers is None else num_workers


def with_worker_axis(tree: Any, num_workers: int | None, what: str = "gradients") -> Any:
  """`tree` with a leading worker axis: added (size 1) when `num_workers` is None, else checked."""
  if num_workers is None:
    return jax.tree.map(lambda x: x[None], tree)
  for x in jax.tree.leaves(tree):
    if x.ndim == 0 or x.shape[0] != num_workers:
      raise ValueError(
        f"{what} need a leading worker axis of size num_workers={num_workers}; got a leaf of "
        f"shape {x.shape}. Pass num_workers=None for arrays without a worker axis."
      )
  return tree


def without_worker_axis(tree: Any, num_workers: int | None) -> Any:
  """Inverse of `with_worker_axis`: drops the size-1 axis when `num_workers` is None."""
  if num_workers is None:
    return jax.tree.map(lambda x: x[0], tree)
  return tree


def worker_zeros(params: Any, num_workers: int | None, *, params_have_axis: bool) -> Any:
  """float32 zeros of shape `(num_workers or 1, *p.shape)` per leaf of `params`."""
  n = size(num_workers)
  if params_have_axis:
    return jax.tree.map(
      lambda p: jnp.zeros(with_worker_axis(p, num_workers, "parameters").shape, jnp.float32),
      params,
    )
  return jax.tree.map(lambda p: jnp.zeros((n, *p.shape), jnp.float32), params)


def per_worker_size(params: Any, num_workers: int | None, *, params_have_axis: bool) -> int:
  """Number of coordinates of one worker's model."""
  total = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
  return total // size(num_workers) if params_have_axis and num_workers is not None else total


def mixing_matrix(topology: str | np.ndarray | tuple, n: int) -> jnp.ndarray:
  """A doubly stochastic gossip matrix W for `n` workers.

  Args:
    topology: `"ring"` (each worker averages itself and its two ring neighbours with weight
      1/3; for n = 2 both weights are 1/2), `"complete"` (W = 11ᵀ/n, exact averaging), or an
      explicit (n, n) matrix with nonnegative entries and unit row and column sums.
    n: number of workers.
  """
  if isinstance(topology, str):
    if topology == "complete" or n <= 2:
      if topology not in ("complete", "ring"):
        raise ValueError(
          f"topology must be 'ring', 'complete' or an (n, n) matrix, got {topology!r}."
        )
      return jnp.full((n, n), 1.0 / n, jnp.float32)
    if topology != "ring":
      raise ValueError(
        f"topology must be 'ring', 'complete' or an (n, n) matrix, got {topology!r}."
      )
    w = np.zeros((n, n), np.float32)
    for i in range(n):
      for j in (i - 1, i, i + 1):
        w[i, j % n] = 1.0 / 3.0
    return jnp.asarray(w)
  w = np.asarray(topology, np.float32)
  if w.shape != (n, n):
    raise ValueError(f"the mixing matrix must have shape ({n}, {n}), got {w.shape}.")
  if (
    (w < 0).any()
    or not np.allclose(w.sum(0), 1, atol=1e-5)
    or not np.allclose(w.sum(1), 1, atol=1e-5)
  ):
    raise ValueError("the mixing matrix must be nonnegative with unit row and column sums.")
  return jnp.asarray(w)


def mix(w: jnp.ndarray, tree: Any) -> Any:
  """Gossip: worker i gets sum_j W_ij x_j (a contraction over the worker axis)."""
  return jax.tree.map(lambda x: jnp.tensordot(w, x, axes=(1, 0)), tree)


# --------------------------------------------------------------------------------------------
# Compressors (one tensor of one worker; float32 in, float32 out).
# --------------------------------------------------------------------------------------------

COMPRESSORS = ("top_k", "scaled_sign")


def check_compressor(compressor: str, k_fraction: float) -> None:
  if compressor not in COMPRESSORS:
    raise ValueError(f"compressor must be one of {COMPRESSORS}, got {compressor!r}.")
  if not 0 < k_fraction <= 1:
    raise ValueError(f"k_fraction must be in (0, 1], got {k_fraction}.")


def num_kept(d: int, fraction: float) -> int:
  """Static k = max(1, ceil(fraction * d)) of Top-K."""
  return max(1, math.ceil(fraction * d))


def index_bits(d: int) -> int:
  """Bits of one coordinate index into a tensor of d entries."""
  return max(1, math.ceil(math.log2(d))) if d > 1 else 1


def top_k(x: jnp.ndarray, k: int) -> jnp.ndarray:
  """Keeps the k entries of largest magnitude (static k), zeroes the rest."""
  flat = x.reshape(-1)
  _, idx = jax.lax.top_k(jnp.abs(flat), k)
  return jnp.zeros_like(flat).at[idx].set(flat[idx]).reshape(x.shape)


def top_k_mask(x: jnp.ndarray, k: jnp.ndarray) -> jnp.ndarray:
  """float mask of the k largest-magnitude entries for a traced k (ties by lower index)."""
  flat = jnp.abs(x.reshape(-1))
  order = jnp.argsort(-flat, stable=True)
  ranks = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
  return (ranks < k).astype(jnp.float32).reshape(x.shape)


def scaled_sign(x: jnp.ndarray, norm: str = "l1") -> jnp.ndarray:
  """1-bit compression s * sign(x); s = ||x||_1/d ("l1") or ||x||_2/sqrt(d).

  sign(0) = 0: a coordinate whose value is exactly zero (e.g. a parameter that never gets a
  gradient) stays zero instead of being pushed by +s; it is still counted as one bit.
  """
  d = x.size
  s = jnp.sum(jnp.abs(x)) / d if norm == "l1" else jnp.sqrt(jnp.sum(x * x) / d)
  return s * jnp.sign(x)


def compressed_bits(d: int, compressor: str, k_fraction: float) -> float:
  """Bits one worker sends for a d-entry tensor: Top-K values + indices, or d signs + a scale."""
  if compressor == "top_k":
    return float(num_kept(d, k_fraction) * (32 + index_bits(d)))
  return float(d + 32)


def compress(x: jnp.ndarray, compressor: str, k_fraction: float) -> jnp.ndarray:
  """`compressor` applied to one tensor."""
  if compressor == "top_k":
    return top_k(x, num_kept(x.size, k_fraction))
  return scaled_sign(x, "l1")


def compress_workers(tree: Any, compressor: str, k_fraction: float) -> tuple[Any, float]:
  """`compress` on every leaf, vmapped over the leading worker axis; (tree, bits per worker)."""
  out = jax.tree.map(lambda x: jax.vmap(lambda y: compress(y, compressor, k_fraction))(x), tree)
  bits = sum(
    compressed_bits(int(np.prod(x.shape[1:])), compressor, k_fraction)
    for x in jax.tree.leaves(tree)
  )
  return out, bits


def full_bits(tree_one_worker: Any) -> float:
  """Bits of an uncompressed float32 message of one worker's tree."""
  return float(32 * sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree_one_worker)))


# --------------------------------------------------------------------------------------------
# Reporting and sharding.
# --------------------------------------------------------------------------------------------


def communicated_bits(state: optax.OptState) -> jnp.ndarray:
  """The `bits` field of a (possibly chained) state of this family: bits per worker last step."""
  return otu.tree_get(state, "bits")


def compression_ratio(state: optax.OptState, num_coordinates: int) -> jnp.ndarray:
  """Bits sent per worker last step over 32 * `num_coordinates` (uncompressed float32)."""
  return communicated_bits(state) / (32.0 * num_coordinates)


def worker_mesh(devices: Any = None) -> jax.sharding.Mesh:
  """A 1-d mesh named `"workers"` over `devices` (default: all of `jax.devices()`)."""
  devices = jax.devices() if devices is None else devices
  return jax.sharding.Mesh(np.asarray(devices), (WORKERS,))


def worker_shardings(tree: Any, mesh: jax.sharding.Mesh, num_workers: int) -> Any:
  """Shardings for `tree`: leaves with a leading axis of `num_workers` split over the mesh.

  Other leaves (server state, replicated parameters, counters) are replicated. A replicated
  leaf that happens to have `num_workers` rows is split too; that changes only its layout,
  never a result (jit is sharding-invariant).
  """
  split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(WORKERS))
  whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  def pick(x):
    shape = getattr(x, "shape", ())
    return split if len(shape) >= 1 and shape[0] == num_workers else whole

  return jax.tree.map(pick, tree)

"""The matrix decompositions of the rules, one matrix per LAPACK call (jaxlib 0.10's deadlock).

`eigh`, `qr`, `svd` and `solve` are `jnp.linalg`'s, with the same arguments and results,
except that a stack of matrices, whether its axes are explicit or added by `jax.vmap`, is
decomposed by a loop (`lax.map`) of single-matrix calls instead of one batched call.

Why: on CPU, jaxlib 0.10.0 to 0.11.0 split a batched LAPACK call (QR, eigh, SVD, LU,
Cholesky, triangular solve, ...) into chunks scheduled on XLA:CPU's intra-op thread pool,
and the calling pool thread then blocks until the chunks are done
(`jax::ParallelBatchMap` in `jaxlib/cpu/lapack_kernels.cc`). XLA's thunk executor runs
independent operations of a program at the same time on that same pool; when as many
batched LAPACK calls as the pool has threads (the CPU count) start at once, every thread
waits for chunks that no thread is left to run, and the program never finishes, with
every thread asleep. SOAP's two QR refreshes per matrix, vmapped over the comparison
suite's 8 settings x 3 seeds, met this within a few hundred steps on 2 cores
(`tests/test_linalg.py` keeps the reproducer). A single matrix is never split, so
single-matrix calls cannot wedge the pool; jax 0.11.1 stopped splitting in open-source
builds (jax commit 859992407d), where this loop is what jaxlib does anyway.

Differentiation follows jax's own rules (`jax.jvp` of the `jnp.linalg` function), so a
program that differentiates through one of these calls (e.g. truncated backprop through a
learned rule that reads SOAP's direction) issues jax's batched calls as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax


def _over_batch(op: Callable, mapper: Callable, *args):
  """`op` applied by `mapper(f, xs)` (`lax.map`, or `jax.vmap`'s equivalent) over the
  leading axes that every argument shares with the first one's batch axes (all but its
  last two)."""
  batch = args[0].shape[:-2]
  if not batch:
    return op(*args)
  flat = [x.reshape((-1, *x.shape[len(batch) :])) for x in args]
  out = mapper(lambda xs: op(*xs), flat)
  return jax.tree.map(lambda y: y.reshape(batch + y.shape[1:]), out)


@functools.cache
def _one_matrix_per_call(op: Callable) -> Callable:
  """`op` as a loop of single-matrix calls over its arguments' batch axes and over any
  axes `jax.vmap` adds; its derivative is jax's, of `op` vmapped over the batch axes."""
  looped = jax.custom_batching.sequential_vmap(lambda *args: _over_batch(op, lax.map, *args))

  @jax.custom_jvp
  def fn(*args):
    return looped(*args)

  vmapped = lambda *args: _over_batch(op, lambda f, xs: jax.vmap(f)(xs), *args)
  fn.defjvp(lambda primals, tangents: jax.jvp(vmapped, primals, tangents))
  return fn


_svd_reduced = functools.partial(jnp.linalg.svd, full_matrices=False)


def eigh(a: jax.Array) -> tuple[jax.Array, jax.Array]:
  """`jnp.linalg.eigh(a)` (ascending eigenvalues, eigenvectors as columns), one matrix per
  LAPACK call."""
  return _one_matrix_per_call(jnp.linalg.eigh)(a)


def qr(a: jax.Array) -> tuple[jax.Array, jax.Array]:
  """`jnp.linalg.qr(a)` (reduced), one matrix per LAPACK call."""
  return _one_matrix_per_call(jnp.linalg.qr)(a)


def svd(a: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """`jnp.linalg.svd(a, full_matrices=False)`, one matrix per LAPACK call."""
  return _one_matrix_per_call(_svd_reduced)(a)


def solve(a: jax.Array, b: jax.Array) -> jax.Array:
  """`jnp.linalg.solve(a, b)` for `b` with `a`'s batch axes (a vector or a matrix per
  system), one system per LAPACK call."""
  if b.shape[: a.ndim - 2] != a.shape[:-2]:
    raise ValueError(f"solve: b of shape {b.shape} lacks the batch axes of a {a.shape}.")
  return _one_matrix_per_call(jnp.linalg.solve)(a, b)

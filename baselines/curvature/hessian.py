"""Curvature from `value_fn`: one implementation for every second-order baseline.

Second-order baselines (AdaHessian, OASIS, FOSI, the SLQ learning-rate rule, gradient-
regularized Newton, iterative Newton, HARPG, ...) read the curvature of the loss through the
project's `value_fn` extra arg (params -> loss on the current batch):

- `hvp`: the Hessian-vector product H v = d/dε ∇f(x + ε v), as `jax.jvp` of `jax.grad`
  (forward-over-reverse: one extra backward-pass cost, no Hessian materialized);
- `hutchinson_diag`: Hutchinson's estimate z ⊙ (H z) of diag(H), with Rademacher probes z
  drawn by `baselines.perturbation.sample(key, ..., "rademacher")` (E[z ⊙ Hz] = diag H);
- `flat_hvp`: the HVP as a function on flat float32 vectors, for Krylov methods;
- `lanczos` / `lanczos_eigh`: Lanczos tridiagonalization with full reorthogonalization and
  the Ritz pairs (extreme eigenpairs of H) it gives;
- `conjugate_gradient`: truncated CG for (H + λI) x = b, stopping at negative curvature.

Every loop has a static trip count (`lax.fori_loop`), so the callers jit once and vmap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from baselines import linalg, perturbation

Matvec = Callable[[jax.Array], jax.Array]


def hvp(value_fn: Callable[[Any], jax.Array], params: Any, v: Any) -> Any:
  """∇²f(params) v for f = `value_fn`, by forward-over-reverse differentiation.

  `v` has the structure of `params`; the result has the structure and dtypes of `params`.
  """
  return jax.jvp(jax.grad(value_fn), (params,), (v,))[1]


def rademacher_probe(key: jax.Array, params: Any) -> Any:
  """A Rademacher vector z ∈ {-1, +1}^d with the structure and dtypes of `params`."""
  return perturbation.sample(key, params, 1.0, "rademacher")


def hutchinson_diag(
  value_fn: Callable[[Any], jax.Array], params: Any, key: jax.Array, num_samples: int = 1
) -> Any:
  """Hutchinson's estimate of diag ∇²f(params): the mean of z ⊙ (H z) over Rademacher z.

  Args:
    value_fn: params -> loss.
    params: where the Hessian is taken.
    key: PRNG key of the probes (one probe per sample, `jax.random.split(key, num_samples)`).
    num_samples: number of probes averaged (≥ 1).

  Returns:
    A float32 tree with the structure of `params`.
  """
  if num_samples < 1:
    raise ValueError(f"num_samples must be an integer >= 1, got {num_samples}.")

  def one(k):
    z = rademacher_probe(k, params)
    hz = hvp(value_fn, params, z)
    return jax.tree.map(lambda a, b: a.astype(jnp.float32) * b.astype(jnp.float32), z, hz)

  keys = jax.random.split(key, num_samples)
  total = one(keys[0])
  for k in keys[1:]:
    total = jax.tree.map(jnp.add, total, one(k))
  return jax.tree.map(lambda x: x / num_samples, total)


def flat_hvp(value_fn: Callable[[Any], jax.Array], params: Any) -> tuple[Matvec, jax.Array]:
  """(v ↦ H v on flat float32 vectors, the flat float32 params) for Krylov solvers."""
  flat, unravel = ravel_pytree(params)

  def matvec(v):
    out = hvp(value_fn, params, unravel(v.astype(flat.dtype)))
    return ravel_pytree(out)[0].astype(jnp.float32)

  return matvec, flat.astype(jnp.float32)


def lanczos(
  matvec: Matvec, v0: jax.Array, num_iters: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """`num_iters` Lanczos steps with full reorthogonalization, started at `v0`.

  Builds an orthonormal basis V (rows v_1 … v_m) of the Krylov space of the symmetric
  operator A = `matvec` and the tridiagonal T = Vᵀ A V (diagonal α, off-diagonal β):

    w = A v_j − β_{j−1} v_{j−1};  α_j = ⟨w, v_j⟩;  w ← w − Σ_{i≤j} ⟨w, v_i⟩ v_i (twice);
    β_j = ‖w‖;  v_{j+1} = w / β_j   (v_{j+1} = 0 once β_j ≈ 0: the Krylov space is exhausted).

  Returns:
    (alphas (m,), betas (m−1,), basis (m, d)), all float32.
  """
  if num_iters < 1:
    raise ValueError(f"num_iters must be an integer >= 1, got {num_iters}.")
  v0 = v0.astype(jnp.float32)
  d = v0.shape[0]
  basis = jnp.zeros((num_iters, d), jnp.float32).at[0].set(v0 / jnp.linalg.norm(v0))
  alphas = jnp.zeros((num_iters,), jnp.float32)
  betas = jnp.zeros((num_iters,), jnp.float32)
  tiny = 1e-6

  def body(j, carry):
    basis, alphas, betas = carry
    v = basis[j]
    w = (
      matvec(v) - jnp.where(j > 0, betas[jnp.maximum(j - 1, 0)], 0.0) * basis[jnp.maximum(j - 1, 0)]
    )
    alpha = jnp.vdot(w, v)
    mask = (jnp.arange(num_iters) <= j).astype(jnp.float32)[:, None]
    for _ in range(2):
      w = w - (mask * basis).T @ ((mask * basis) @ w)
    beta = jnp.linalg.norm(w)
    ok = beta > tiny * jnp.maximum(1.0, jnp.abs(alpha))
    nxt = jnp.where(ok, w / jnp.where(ok, beta, 1.0), 0.0)
    basis = jnp.where(
      j + 1 < num_iters, basis.at[jnp.minimum(j + 1, num_iters - 1)].set(nxt), basis
    )
    return basis, alphas.at[j].set(alpha), betas.at[j].set(jnp.where(ok, beta, 0.0))

  basis, alphas, betas = jax.lax.fori_loop(0, num_iters, body, (basis, alphas, betas))
  return alphas, betas[:-1], basis


def lanczos_eigh(matvec: Matvec, v0: jax.Array, num_iters: int) -> tuple[jax.Array, jax.Array]:
  """Ritz values (ascending, (m,)) and Ritz vectors (rows, (m, d)) from `lanczos`.

  The extreme Ritz values converge first to the extreme eigenvalues of A; with m = d
  steps (and no breakdown) they are A's eigenvalues.
  """
  alphas, betas, basis = lanczos(matvec, v0, num_iters)
  tri = jnp.diag(alphas) + jnp.diag(betas, 1) + jnp.diag(betas, -1)
  values, vecs = linalg.eigh(tri)
  return values, vecs.T @ basis


def conjugate_gradient(
  matvec: Matvec, b: jax.Array, num_iters: int, damping: float | jax.Array = 0.0
) -> jax.Array:
  """Truncated CG for (A + damping·I) x = b from x = 0, `num_iters` steps at most.

  Stops (keeps the current x) at a direction of non-positive curvature pᵀ(A + λI)p ≤ 0
  or once the residual vanishes; if that happens at the first step, returns b (a
  gradient step), as in truncated-Newton methods.
  """
  if num_iters < 1:
    raise ValueError(f"num_iters must be an integer >= 1, got {num_iters}.")
  b = b.astype(jnp.float32)
  tol = 1e-12 * jnp.maximum(jnp.vdot(b, b), 1e-30)

  def body(_, carry):
    x, r, p, rr, done = carry
    ap = matvec(p) + damping * p
    curv = jnp.vdot(p, ap)
    stop = done | (curv <= 0) | (rr <= tol)
    alpha = rr / jnp.where(stop, 1.0, curv)
    x_new = x + alpha * p
    r_new = r - alpha * ap
    rr_new = jnp.vdot(r_new, r_new)
    p_new = r_new + (rr_new / jnp.where(stop, 1.0, rr)) * p
    keep = lambda old, new: jnp.where(stop, old, new)
    return keep(x, x_new), keep(r, r_new), keep(p, p_new), keep(rr, rr_new), stop

  x0 = jnp.zeros_like(b)
  x, *_ = jax.lax.fori_loop(0, num_iters, body, (x0, b, b, jnp.vdot(b, b), jnp.asarray(False)))
  return jnp.where(jnp.all(x == 0), b, x)

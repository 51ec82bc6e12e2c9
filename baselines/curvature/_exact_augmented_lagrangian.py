"""AdaSketch-Newton: inexact Newton steps on the Lagrangian, solved by randomized sketching,
with an exact augmented Lagrangian as the line search's merit (equality constraints)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from baselines import linalg

Sketch = Literal["gaussian", "kaczmarz"]


class ExactAugmentedLagrangianState(NamedTuple):
  count: jax.Array
  multipliers: jax.Array  # λ [num_constraints]
  penalty: jax.Array  # μ of the merit; never decreases


def sketch_matrix(key: jax.Array, size: int, sketch_size: int, sketch: Sketch) -> jax.Array:
  """S [size, sketch_size]: standard normal entries (`"gaussian"`) or `sketch_size` distinct
  columns of the identity drawn uniformly (`"kaczmarz"`: randomized block Kaczmarz)."""
  if sketch == "gaussian":
    return jax.random.normal(key, (size, sketch_size))
  rows = jax.random.choice(key, size, (sketch_size,), replace=False)
  return jnp.eye(size)[:, rows]


def sketch_and_project(
  matvec,
  b: jax.Array,
  key: jax.Array,
  *,
  sketch: Sketch,
  sketch_size: int,
  accuracy: float | jax.Array,
  max_iters: int,
) -> tuple[jax.Array, jax.Array]:
  """Randomized iterative sketching for K z = b (K symmetric, given by `matvec`), from z = 0:

      z ← z − K S_j (S_jᵀ K² S_j)^† S_jᵀ (K z − b),   S_j = sketch_matrix(fold_in(key, j), ...)

  (Gower & Richtárik's sketch-and-project with B = I: z moves to the point nearest to it
  whose residual vanishes on the sketched rows), computed as z ← z − (Aᵀ)^† S_jᵀ r with
  A = K S_j (SVD; singular values below 1e-6 σ_max dropped). Stops at the first j with
  ‖K z − b‖ ≤ `accuracy` ‖b‖, or after `max_iters` iterations (each `sketch_size` + 1
  products with K).

  Returns:
    (z, the number of iterations run).
  """
  size = b.shape[0]
  q = min(sketch_size, size)
  target = accuracy * jnp.linalg.norm(b)
  batched = jax.vmap(matvec, in_axes=1, out_axes=1)

  def cond(carry):
    j, _, r = carry
    return (j < max_iters) & (jnp.linalg.norm(r) > target)

  def body(carry):
    j, z, r = carry
    s = sketch_matrix(jax.random.fold_in(key, j), size, q, sketch)
    u, sv, vt = linalg.svd(batched(s))
    inv = jnp.where(sv > 1e-6 * sv[0], 1.0 / jnp.where(sv > 0, sv, 1.0), 0.0)
    dz = -u @ (inv * (vt @ (s.T @ r)))
    return j + 1, z + dz, r + matvec(dz)

  j, z, _ = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), jnp.zeros_like(b), -b))
  return z, j


def exact_augmented_lagrangian_sketching(
  num_constraints: int = 1,
  penalty: float = 1.0,
  nu: float = 0.01,
  penalty_growth: float = 10.0,
  sketch: Sketch = "gaussian",
  sketch_size: int = 8,
  accuracy: float = 0.5,
  max_sketch_iters: int = 50,
  armijo: float = 1e-4,
  backtrack: float = 0.5,
  max_backtracks: int = 20,
  max_penalty_increases: int = 10,
) -> optax.GradientTransformationExtraArgs:
  r"""AdaSketch-Newton for min f(x) s.t. c(x) = 0: x and the multipliers λ move together.

  With the Lagrangian ℒ(x, λ) = f(x) + λᵀc(x), G = ∂c/∂x and H = ∇²ₓℒ (exact, from HVPs):

  1. Newton system of the Lagrangian, solved inexactly by `sketch_and_project` from 0,

     .. math::
       K \begin{pmatrix}\Delta x\\ \Delta\lambda\end{pmatrix} = -\nabla\mathcal L =
       -\begin{pmatrix}\nabla_x\mathcal L\\ c\end{pmatrix},\qquad
       K = \begin{pmatrix} H & G^\top\\ G & 0\end{pmatrix},

     to ‖K Δz + ∇ℒ‖ ≤ `accuracy` ‖∇ℒ‖ (at most `max_sketch_iters` sketches);
  2. the exact augmented Lagrangian merit

     .. math::
       \mathcal L_{\mu,\nu}(x,\lambda) = \mathcal L(x,\lambda) + \tfrac{\mu}{2}\|c(x)\|^2
         + \tfrac{\nu}{2}\|\nabla_x\mathcal L(x,\lambda)\|^2,

     whose gradient is (∇ₓℒ + μGᵀc + νH∇ₓℒ, c + νG∇ₓℒ); μ ← `penalty_growth` · μ until
     Δz is a descent direction, ∇ℒ_{μ,ν}ᵀΔz ≤ −(ν/2)‖∇ℒ‖² (at most `max_penalty_increases`
     times; μ never decreases);
  3. Armijo backtracking from α = 1: the first α = `backtrack`^i with
     ℒ_{μ,ν}(z + αΔz) ≤ ℒ_{μ,ν}(z) + `armijo` · α ∇ℒ_{μ,ν}ᵀΔz; x ← x + αΔx, λ ← λ + αΔλ.
     If Δz is no descent direction after the penalty increases or no α of `max_backtracks`
     halvings is accepted, the step is zero (the next step draws new sketches).

  Simplified from the paper (stated in the registry's reference): its adaptive accuracy
  condition (which also involves μ and ν) is the fixed relative accuracy above, and the
  paper's superlinear variant (an accuracy that tightens as ∇ℒ → 0) is left out; when the
  descent test fails the paper re-solves more accurately, this rule grows μ only. λ₀ = 0.

  Args:
    num_constraints: m, the length of `constraint_fn`'s output (λ is state, so its size is
      fixed when the optimizer is built).
    penalty: μ₀ > 0.
    nu: ν > 0, the weight of ‖∇ₓℒ‖² in the merit.
    penalty_growth: ρ > 1, the factor μ grows by.
    sketch: `"gaussian"` or `"kaczmarz"` (`sketch_matrix`).
    sketch_size: columns per sketch (at most n + m are used).
    accuracy: the solver's relative residual target θ ∈ (0, 1).
    max_sketch_iters: sketches per step at most.
    armijo: β ∈ (0, 1/2), the Armijo constant.
    backtrack: κ ∈ (0, 1), the step shrink factor.
    max_backtracks: step shrinks per step at most.
    max_penalty_increases: μ increases per step at most.

  Returns:
    An `optax.GradientTransformationExtraArgs` whose updates are the steps αΔx themselves;
    `update` needs `params`, `value_fn` (f on the batch), `constraint_fn` (params -> c, m
    values) and `key` (the sketches). The gradient passed to `update` is not used.

  References:
    Hong, Na, Mahoney & Kolar, Constrained Optimization via Exact Augmented Lagrangian and
    Randomized Iterative Sketching, ICML 2023, https://arxiv.org/abs/2305.18379; Gower &
    Richtárik, Randomized Iterative Methods for Linear Systems, SIAM J. Matrix Anal. Appl.
    (2015)
  """
  if num_constraints < 1:
    raise ValueError(f"num_constraints must be an integer >= 1, got {num_constraints}.")
  if penalty <= 0 or nu <= 0:
    raise ValueError(f"penalty and nu must be > 0, got penalty={penalty}, nu={nu}.")
  if penalty_growth <= 1:
    raise ValueError(f"penalty_growth must be > 1, got {penalty_growth}.")
  if sketch not in ("gaussian", "kaczmarz"):
    raise ValueError(f"sketch must be 'gaussian' or 'kaczmarz', got {sketch!r}.")
  if not 0 < accuracy < 1:
    raise ValueError(f"accuracy must be in (0, 1), got {accuracy}.")
  if not 0 < armijo < 0.5 or not 0 < backtrack < 1:
    raise ValueError(f"need 0 < armijo < 1/2 and 0 < backtrack < 1, got {armijo}, {backtrack}.")
  for name, value in (
    ("sketch_size", sketch_size),
    ("max_sketch_iters", max_sketch_iters),
    ("max_backtracks", max_backtracks),
  ):
    if value < 1:
      raise ValueError(f"{name} must be an integer >= 1, got {value}.")
  if max_penalty_increases < 0:
    raise ValueError(f"max_penalty_increases must be >= 0, got {max_penalty_increases}.")

  def init_fn(params):
    del params
    return ExactAugmentedLagrangianState(
      count=jnp.zeros([], jnp.int32),
      multipliers=jnp.zeros((num_constraints,), jnp.float32),
      penalty=jnp.asarray(penalty, jnp.float32),
    )

  def update_fn(
    updates, state, params=None, *, value_fn=None, constraint_fn=None, key=None, **extra
  ):
    del extra
    given = {"params": params, "value_fn": value_fn, "constraint_fn": constraint_fn, "key": key}
    missing = [name for name, value in given.items() if value is None]
    if missing:
      raise ValueError(
        f"exact_augmented_lagrangian_sketching needs {', '.join(missing)} in `update`: "
        "constraint_fn (params -> c, 0 where feasible) comes from an equality-constrained task "
        "(tasks.constrained; `tasks.train(..., extra_args=tasks.training.extra_args_of("
        "entry.needs))`)."
      )
    x, unravel = ravel_pytree(jax.tree.map(lambda p: p.astype(jnp.float32), params))
    f = lambda v: value_fn(unravel(v)).astype(jnp.float32)
    c = lambda v: jnp.ravel(constraint_fn(unravel(v))).astype(jnp.float32)
    m = jax.eval_shape(c, x).shape[0]
    if m != num_constraints:
      raise ValueError(
        f"constraint_fn returns {m} values; build exact_augmented_lagrangian_sketching with "
        f"num_constraints={m} (it has {num_constraints})."
      )
    n = x.shape[0]
    grad_x = jax.grad(lambda v, lam: f(v) + jnp.vdot(lam, c(v)))
    lam, mu = state.multipliers, state.penalty

    gx, hess = jax.linearize(lambda v: grad_x(v, lam), x)
    cx, jac = jax.linearize(c, x)
    jac_t = jax.linear_transpose(jac, x)
    kkt = lambda v: jnp.concatenate([hess(v[:n]) + jac_t(v[n:])[0], jac(v[:n])])
    grad_l = jnp.concatenate([gx, cx])
    dz, _ = sketch_and_project(
      kkt,
      -grad_l,
      key,
      sketch=sketch,
      sketch_size=sketch_size,
      accuracy=accuracy,
      max_iters=max_sketch_iters,
    )

    # ∇ℒ_{μ,ν}ᵀΔz = a + μ b: affine in μ.
    a = jnp.vdot(gx + nu * hess(gx), dz[:n]) + jnp.vdot(cx + nu * jac(gx), dz[n:])
    b = jnp.vdot(cx, jac(dz[:n]))
    needed = -0.5 * nu * jnp.vdot(grad_l, grad_l)
    mu = jax.lax.while_loop(
      lambda k_mu: (k_mu[0] < max_penalty_increases) & (a + k_mu[1] * b > needed),
      lambda k_mu: (k_mu[0] + 1, k_mu[1] * penalty_growth),
      (jnp.zeros((), jnp.int32), mu),
    )[1]
    slope = a + mu * b
    descent = slope <= needed

    def merit(v, lam_v):
      cv, gv = c(v), grad_x(v, lam_v)
      return f(v) + jnp.vdot(lam_v, cv) + 0.5 * mu * jnp.vdot(cv, cv) + 0.5 * nu * jnp.vdot(gv, gv)

    at_z = merit(x, lam)
    trial = lambda alpha: merit(x + alpha * dz[:n], lam + alpha * dz[n:])
    rejected = lambda alpha: ~(trial(alpha) <= at_z + armijo * alpha * slope)
    i, alpha = jax.lax.while_loop(
      lambda ia: (ia[0] < max_backtracks) & rejected(ia[1]),
      lambda ia: (ia[0] + 1, ia[1] * backtrack),
      (jnp.zeros((), jnp.int32), jnp.ones((), jnp.float32)),
    )
    accepted = descent & ((i < max_backtracks) | ~rejected(alpha))
    alpha = jnp.where(accepted, alpha, 0.0)
    step = jax.tree.map(lambda o, u: o.astype(u.dtype), unravel(alpha * dz[:n]), updates)
    new_state = ExactAugmentedLagrangianState(
      optax.safe_increment(state.count), lam + alpha * dz[n:], mu
    )
    return step, new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)

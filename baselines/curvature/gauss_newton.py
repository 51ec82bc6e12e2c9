"""Gauss–Newton curvature from `output_fn` and `loss_of_outputs`: one implementation for EGN,
SGN and Levenberg–Marquardt.

The generalized Gauss–Newton (GGN) matrix of a loss L(θ) = ℓ(f(θ)) that composes a model
`output_fn` f: θ ↦ z (the network's outputs on the current batch: logits, predictions,
residuals; any array of m numbers) with a loss of those outputs `loss_of_outputs` ℓ is

  G = Jᵀ H J,   J = ∂f/∂θ (m × d),   H = ∇²ℓ(z) (m × m),

the Hessian with the second-order term of the model (Σ_k ∂ℓ/∂z_k ∇²f_k) left out, so G is
positive semi-definite whenever ℓ is convex in z (least squares, softmax cross-entropy). The
gradient is g = Jᵀ e with e = ∇ℓ(z). For least squares ℓ(z) = ½‖z‖² (z the residuals r),
G = JᵀJ and g = Jᵀr.

`linearize` gives the four products every Gauss–Newton method is built from, on flat float32
vectors: J v (`jvp`, forward mode), Jᵀ u (`vjp`, reverse mode), H u (`out_hvp`, a Hessian-
vector product of the cheap ℓ alone) and e; `ggn_matvec` chains them to v ↦ Jᵀ H J v with no
matrix formed. `jacobian` and `output_hessian` materialize J and H for the methods that solve
in output space (EGN) or need diag(G) (Marquardt's damping); their cost is m products.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

Matvec = Callable[[jax.Array], jax.Array]


class Linearized(NamedTuple):
  """f and ℓ linearized at θ, on flat float32 vectors (d parameters, m outputs).

  Attributes:
    jvp: v (d,) ↦ J v (m,).
    vjp: u (m,) ↦ Jᵀ u (d,).
    out_hvp: u (m,) ↦ ∇²ℓ(z) u (m,).
    outputs: z = f(θ), flat (m,).
    grad_out: e = ∇ℓ(z), flat (m,).
    loss: ℓ(z).
    params: θ, flat (d,).
    loss_at: flat θ' (d,) ↦ ℓ(f(θ')) on the same batch (a trial point).
    unravel: flat (d,) ↦ a tree with the structure and dtypes of θ.
  """

  jvp: Matvec
  vjp: Matvec
  out_hvp: Matvec
  outputs: jax.Array
  grad_out: jax.Array
  loss: jax.Array
  params: jax.Array
  loss_at: Callable[[jax.Array], jax.Array]
  unravel: Callable[[jax.Array], Any]


def check_args(name: str, params: Any, output_fn: Any, loss_of_outputs: Any) -> None:
  """Raises the one readable error of a Gauss–Newton rule called without its extra args."""
  if params is None or output_fn is None or loss_of_outputs is None:
    raise ValueError(
      f"{name} needs `params` and the extra args `output_fn` (params -> the model's outputs "
      "on the current batch) and `loss_of_outputs` (outputs -> the loss); tasks.train and "
      "the comparison suite pass them for tasks with outputs (classifiers, autoencoders)."
    )


def flat_output_fn(
  output_fn: Callable[[Any], Any], params: Any
) -> tuple[Callable[[jax.Array], jax.Array], jax.Array, Callable[[jax.Array], Any]]:
  """(x ↦ flat float32 f(unravel(x)), flat float32 θ, unravel) for flat-vector algebra."""
  flat, unravel_raw = ravel_pytree(params)
  unravel = lambda x: unravel_raw(x.astype(flat.dtype))
  f = lambda x: ravel_pytree(output_fn(unravel(x)))[0].astype(jnp.float32)
  return f, flat.astype(jnp.float32), unravel


def linearize(
  output_fn: Callable[[Any], Any],
  loss_of_outputs: Callable[[Any], jax.Array],
  params: Any,
) -> Linearized:
  """f = `output_fn` and ℓ = `loss_of_outputs` linearized at θ = `params` (see `Linearized`)."""
  f, x, unravel = flat_output_fn(output_fn, params)
  z, jvp = jax.linearize(f, x)
  transpose = jax.linear_transpose(jvp, x)
  shapes = jax.eval_shape(output_fn, params)  # the outputs' structure, with no forward pass
  unravel_out = ravel_pytree(jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), shapes))[1]
  ell = lambda z: loss_of_outputs(unravel_out(z)).astype(jnp.float32)
  loss, grad_out = jax.value_and_grad(ell)(z)
  out_hvp = lambda u: jax.jvp(jax.grad(ell), (z,), (u,))[1]
  return Linearized(
    jvp=jvp,
    vjp=lambda u: transpose(u)[0],
    out_hvp=out_hvp,
    outputs=z,
    grad_out=grad_out,
    loss=loss,
    params=x,
    loss_at=lambda y: ell(f(y)),
    unravel=unravel,
  )


def ggn_matvec(lin: Linearized) -> Matvec:
  """v ↦ Jᵀ H J v: a GGN-vector product costs one JVP, one HVP of ℓ and one VJP."""
  return lambda v: lin.vjp(lin.out_hvp(lin.jvp(v)))


def jacobian(lin: Linearized) -> jax.Array:
  """J (m × d), row k = Jᵀ e_k: m vector-Jacobian products (vmapped)."""
  m = lin.outputs.shape[0]
  return jax.vmap(lin.vjp)(jnp.eye(m, dtype=jnp.float32))


def output_hessian(lin: Linearized) -> jax.Array:
  """H = ∇²ℓ(z) (m × m): m Hessian-vector products of ℓ (vmapped)."""
  m = lin.outputs.shape[0]
  return jax.vmap(lin.out_hvp)(jnp.eye(m, dtype=jnp.float32))


def ggn_diagonal(lin: Linearized) -> jax.Array:
  """diag(Jᵀ H J) (d,), exactly: Σ_kl J_ki H_kl J_li from the materialized J."""
  jac = jacobian(lin)
  return jnp.einsum("ki,ki->i", jac, jax.vmap(lin.out_hvp, in_axes=1, out_axes=1)(jac))

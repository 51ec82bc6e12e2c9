"""K-FAC from gradients alone: Kronecker factors of the empirical Fisher of each weight matrix.

The framework's extra args do not expose layer activations a or pre-activation gradients δ,
so the factors A = E[a aᵀ] and G = E[δ δᵀ] are estimated from the weight gradient W_g itself:
for one example W_g = a δᵀ, and W_g W_gᵀ / ‖W_g‖ = (‖δ‖/‖a‖) a aᵀ, W_gᵀ W_g / ‖W_g‖ =
(‖a‖/‖δ‖) δ δᵀ, whose Kronecker product is exactly a aᵀ ⊗ δ δᵀ. On a minibatch gradient this
is an approximation (the mean gradient's outer products replace the mean of per-example ones).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import linalg
from baselines.axes import matrix_shape


class ScaleByKfacState(NamedTuple):
  """State of `scale_by_kfac` (per leaf; vectors keep a diagonal in `left`, `right` is 0-d)."""

  count: jax.Array  # int32 step count
  left: optax.Updates  # float32 (m, m) EMA of A (vectors: EMA of g²)
  right: optax.Updates  # float32 (n, n) EMA of G (vectors: unused, shape ())
  left_inv: optax.Updates  # float32 (A + √λ I)^{-1} (vectors: 1 / (diag + λ))
  right_inv: optax.Updates  # float32 (G + √λ I)^{-1}


def damped_inverse(m: jax.Array, damping: jax.Array | float) -> jax.Array:
  """(m + damping I)^{-1} of a symmetric PSD factor, by eigendecomposition."""
  w, v = linalg.eigh(m)
  return (v / (jnp.maximum(w, 0.0) + damping)) @ v.T


def gradient_factors(mat: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(W_g W_gᵀ, W_gᵀ W_g) / ‖W_g‖_F of a float32 weight-gradient matrix: the Kronecker
  factors of one example's empirical Fisher (module docstring); zeros for a zero gradient."""
  norm = jnp.linalg.norm(mat)
  scale = jnp.where(norm > 0, 1.0 / jnp.where(norm > 0, norm, 1.0), 0.0)
  return scale * mat @ mat.T, scale * mat.T @ mat


def scale_by_kfac(
  decay: float = 0.95,
  damping: float = 1e-3,
  inverse_update_interval: jax.typing.ArrayLike = 10,
) -> optax.GradientTransformation:
  r"""The K-FAC direction (A + √λ I)^{-1} W_g (G + √λ I)^{-1} per weight matrix (positive sign).

  For each tensor of rank ≥ 2, reshaped to a matrix W_g of shape (∏ shape[:-1], shape[-1])
  (the matrix view of `baselines.axes`: inputs × outputs, the layout of a JAX dense kernel;
  conv kernels HWIO fold their spatial and input axes into the rows):

  .. math::
    A_t = ρ A_{t-1} + (1-ρ)\, W_g W_gᵀ / ‖W_g‖_F,\qquad
    G_t = ρ G_{t-1} + (1-ρ)\, W_gᵀ W_g / ‖W_g‖_F,

    u = (A_t + \sqrt{λ} I)^{-1} W_g (G_t + \sqrt{λ} I)^{-1},

  with the damped inverses recomputed (by eigendecomposition) every
  `inverse_update_interval` steps (a `lax.cond`; first at step 0) and kept in between.
  Vectors and scalars (biases, norms) fall back to the diagonal empirical Fisher,
  u = g / (F + λ) with F_t = ρ F_{t-1} + (1-ρ) g². See the module docstring for why the
  factors come from the gradient (the paper's use activations and back-propagated signals).

  Args:
    decay: ρ, EMA decay of the factors.
    damping: λ > 0 (Tikhonov damping, split as √λ per factor).
    inverse_update_interval: steps between inverse recomputations (may be traced).

  Returns:
    An `optax.GradientTransformation` (gradient only).

  References:
    Martens & Grosse, Optimizing Neural Networks with Kronecker-factored Approximate
    Curvature, https://arxiv.org/abs/1503.05671; used by Kosowski et al., A New Way:
    Kronecker-Factored Approximate Curvature Deep Hedging and its Benefits (2024).
  """
  if not 0 <= decay < 1:
    raise ValueError(f"decay must be in [0, 1), got {decay}.")
  if damping <= 0:
    raise ValueError(f"damping must be > 0, got {damping}.")
  if isinstance(inverse_update_interval, int) and inverse_update_interval < 1:
    raise ValueError(
      f"inverse_update_interval must be an integer >= 1, got {inverse_update_interval}."
    )
  root = damping**0.5

  def init_fn(params):
    def left(p):
      ms = matrix_shape(p.shape)
      return jnp.zeros(p.shape, jnp.float32) if ms is None else jnp.zeros((ms[0],) * 2)

    def right(p):
      ms = matrix_shape(p.shape)
      return jnp.zeros((), jnp.float32) if ms is None else jnp.zeros((ms[1],) * 2)

    return ScaleByKfacState(
      count=jnp.zeros((), jnp.int32),
      left=jax.tree.map(left, params),
      right=jax.tree.map(right, params),
      left_inv=jax.tree.map(left, params),
      right_inv=jax.tree.map(right, params),
    )

  def update_fn(updates, state, params=None):
    del params
    refresh = state.count % inverse_update_interval == 0

    def one(g, a, s, a_inv, s_inv):
      ms = matrix_shape(g.shape)
      g32 = g.astype(jnp.float32)
      if ms is None:
        a = decay * a + (1 - decay) * g32 * g32
        a_inv = jnp.where(refresh, 1.0 / (a + damping), a_inv)
        return (g32 * a_inv).astype(g.dtype), a, s, a_inv, s_inv
      mat = g32.reshape(ms)
      fa, fs = gradient_factors(mat)
      a = decay * a + (1 - decay) * fa
      s = decay * s + (1 - decay) * fs
      a_inv, s_inv = jax.lax.cond(
        refresh,
        lambda: (damped_inverse(a, root), damped_inverse(s, root)),
        lambda: (a_inv, s_inv),
      )
      return (a_inv @ mat @ s_inv).reshape(g.shape).astype(g.dtype), a, s, a_inv, s_inv

    flat_g, treedef = jax.tree.flatten(updates)
    parts = [
      one(*args)
      for args in zip(
        flat_g,
        treedef.flatten_up_to(state.left),
        treedef.flatten_up_to(state.right),
        treedef.flatten_up_to(state.left_inv),
        treedef.flatten_up_to(state.right_inv),
        strict=True,
      )
    ]
    out, left, right, left_inv, right_inv = (
      treedef.unflatten([p[i] for p in parts]) for i in range(5)
    )
    return out, ScaleByKfacState(
      count=optax.safe_increment(state.count),
      left=left,
      right=right,
      left_inv=left_inv,
      right_inv=right_inv,
    )

  return optax.GradientTransformation(init_fn, update_fn)


def kfac(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  decay: float = 0.95,
  damping: float = 1e-3,
  inverse_update_interval: jax.typing.ArrayLike = 10,
  momentum: float = 0.9,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """K-FAC (gradient-only factors): θ ← θ − η · trace_μ(K-FAC(g + λ_wd θ)).

  Args:
    learning_rate: η.
    decay, damping, inverse_update_interval: see `scale_by_kfac`.
    momentum: heavy-ball μ on the preconditioned direction (0: none).
    weight_decay: L2 coefficient added to the gradient.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Martens & Grosse, Optimizing Neural Networks with Kronecker-factored Approximate
    Curvature, https://arxiv.org/abs/1503.05671
  """
  return optax.chain(
    optax.add_decayed_weights(weight_decay),
    scale_by_kfac(decay=decay, damping=damping, inverse_update_interval=inverse_update_interval),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )

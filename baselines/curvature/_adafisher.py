"""AdaFisher from gradients alone: a diagonal Kronecker-factored Fisher as Adam's denominator.

AdaFisher's factors are the diagonals of A = E[a aᵀ] (layer inputs) and G = E[δ δᵀ]
(pre-activation gradients), each min-max normalized. The framework's extra args expose
neither, so they are read off the weight gradient W_g (inputs × outputs): for one example
W_g = a δᵀ, its row energies Σ_j W_g[i, j]² = a_i² ‖δ‖² and column energies ‖a‖² δ_j² are the
factor diagonals up to a scale, which the min-max normalization removes. On a minibatch
gradient this is an approximation (the mean gradient's energies replace per-example ones).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.axes import matrix_shape


class ScaleByAdaFisherState(NamedTuple):
  """State of `scale_by_adafisher`."""

  count: jax.Array  # int32 step count
  mu: optax.Updates  # float32 EMA of gradients
  h_diag: optax.Updates  # float32 (rows,) running factor diagonal of A (vectors: shape ())
  s_diag: optax.Updates  # float32 (cols,) running factor diagonal of G (vectors: shape ())


def min_max_normalize(x: jax.Array, eps: float = 1e-12) -> jax.Array:
  """(x − min x) / (max x − min x + eps)."""
  lo = jnp.min(x)
  return (x - lo) / (jnp.max(x) - lo + eps)


def scale_by_adafisher(
  b1: float = 0.9,
  gammas: tuple[float, float] = (0.92, 0.008),
  damping: float = 1e-3,
  update_interval: jax.typing.ArrayLike = 100,
) -> optax.GradientTransformation:
  r"""The AdaFisher direction m̂_t / F̃ (positive sign; negate to descend).

  For each tensor of rank ≥ 2 seen as a matrix W_g (∏ shape[:-1], shape[-1]), every
  `update_interval` steps (a `lax.cond`; first at step 0):

  .. math::
    H ← (1-γ_0) H + γ_1\, \mathrm{mm}\big(Σ_j W_g[:, j]^2\big),\qquad
    S ← (1-γ_0) S + γ_1\, \mathrm{mm}\big(Σ_i W_g[i, :]^2\big),

  with mm the min-max normalization and H = S = 1 at the start; then

  .. math::
    F̃ = H ⊗ S + λ,\qquad m_t = β_1 m_{t-1} + (1-β_1) g_t,\qquad
    u_t = \frac{m_t}{(1-β_1^t)\, F̃}.

  Vectors and scalars use F̃ = 1 (momentum SGD), as AdaFisher does for parameters outside
  its supported layers (here the bias row of the augmented input is not available). See
  the module docstring for the gradient-only factors.

  Args:
    b1: β_1, momentum decay.
    gammas: (γ_0, γ_1) of the factor running averages (the authors' [0.92, 0.008]).
    damping: λ > 0 added to the Kronecker product.
    update_interval: steps between factor updates (the authors' TCov).

  Returns:
    An `optax.GradientTransformation` (gradient only).

  References:
    Gomes, Zhang, Belilovsky, Wolf & Hosseini, AdaFisher: Adaptive Second Order Optimization
    via Fisher Information, https://arxiv.org/abs/2405.16397
  """
  if not 0 <= b1 < 1:
    raise ValueError(f"b1 must be in [0, 1), got {b1}.")
  if not (0 <= gammas[0] < 1 and 0 <= gammas[1] < 1):
    raise ValueError(f"gammas must be in [0, 1), got {gammas}.")
  if damping <= 0:
    raise ValueError(f"damping must be > 0, got {damping}.")
  if isinstance(update_interval, int) and update_interval < 1:
    raise ValueError(f"update_interval must be an integer >= 1, got {update_interval}.")
  g0, g1 = gammas

  def init_fn(params):
    def factor(p, axis):
      ms = matrix_shape(p.shape)
      return jnp.ones((), jnp.float32) if ms is None else jnp.ones((ms[axis],), jnp.float32)

    return ScaleByAdaFisherState(
      count=jnp.zeros((), jnp.int32),
      mu=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
      h_diag=jax.tree.map(lambda p: factor(p, 0), params),
      s_diag=jax.tree.map(lambda p: factor(p, 1), params),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    refresh = state.count % update_interval == 0
    c1 = 1 - b1 ** count.astype(jnp.float32)

    def one(g, m, h, s):
      g32 = g.astype(jnp.float32)
      m = b1 * m + (1 - b1) * g32
      ms = matrix_shape(g.shape)
      if ms is None:
        return (m / c1).astype(g.dtype), m, h, s
      sq = jnp.square(g32.reshape(ms))
      h = jnp.where(refresh, (1 - g0) * h + g1 * min_max_normalize(sq.sum(axis=1)), h)
      s = jnp.where(refresh, (1 - g0) * s + g1 * min_max_normalize(sq.sum(axis=0)), s)
      fisher = (h[:, None] * s[None, :] + damping).reshape(g.shape)
      return (m / c1 / fisher).astype(g.dtype), m, h, s

    flat_g, treedef = jax.tree.flatten(updates)
    parts = [
      one(*args)
      for args in zip(
        flat_g,
        treedef.flatten_up_to(state.mu),
        treedef.flatten_up_to(state.h_diag),
        treedef.flatten_up_to(state.s_diag),
        strict=True,
      )
    ]
    out, mu, h_diag, s_diag = (treedef.unflatten([p[i] for p in parts]) for i in range(4))
    return out, ScaleByAdaFisherState(count=count, mu=mu, h_diag=h_diag, s_diag=s_diag)

  return optax.GradientTransformation(init_fn, update_fn)


def adafisher(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  b1: float = 0.9,
  gammas: tuple[float, float] = (0.92, 0.008),
  damping: float = 1e-3,
  update_interval: jax.typing.ArrayLike = 100,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AdaFisherW: θ ← θ − η (u_t + λ_wd θ), u_t from `scale_by_adafisher` (decoupled decay).

  Args:
    learning_rate: η.
    b1, gammas, damping, update_interval: see `scale_by_adafisher`.
    weight_decay: decoupled weight decay (AdaFisherW).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Gomes et al., AdaFisher: Adaptive Second Order Optimization via Fisher Information,
    https://arxiv.org/abs/2405.16397
  """
  return optax.chain(
    scale_by_adafisher(b1=b1, gammas=gammas, damping=damping, update_interval=update_interval),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

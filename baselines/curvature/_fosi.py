"""FOSI: Newton's method on the top-k Hessian eigenspace, a base optimizer on the rest."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from baselines.curvature import hessian

Base = Literal["momentum", "adam"]
_BASES = ("momentum", "adam")


class FosiState(NamedTuple):
  """State of `fosi_transform`."""

  count: jax.Array  # int32 step count
  velocity: jax.Array  # float32 (d,) momentum of the subspace gradient g1
  eigvecs: jax.Array  # float32 (k, d) top-k Hessian eigenvectors (rows; zeros before the first)
  inv_eigvals: jax.Array  # float32 (k,) 1 / |λ_i| (0 before the first estimate)
  scaling: jax.Array  # float32 base-step scaling clip(λ_max / λ_k, 1, clip)
  base_state: Any  # state of the base optimizer (on the flat vector)


def fosi_transform(
  base_optimizer: optax.GradientTransformation,
  momentum: float,
  velocity_mode: Literal["heavy_ball", "ema"],
  *,
  alpha: float = 0.1,
  num_eigs: int = 5,
  lanczos_iters: int = 20,
  update_interval: jax.typing.ArrayLike = 100,
  warmup: jax.typing.ArrayLike = 100,
  learning_rate_clip: float = 3.0,
) -> optax.GradientTransformationExtraArgs:
  r"""FOSI around `base_optimizer` (its updates are added to the parameters as they are).

  With V (k × d) the top-k eigenvectors and λ_1..λ_k the eigenvalues of ∇²f, estimated by
  `lanczos_iters` Lanczos steps (HVPs of `value_fn`, Rademacher start from `key`) at step
  `warmup` and every `update_interval` steps after (a `lax.cond`):

  .. math::
    g_1 = Vᵀ V g,\quad g_2 = g - g_1,\quad
    v_t = μ v_{t-1} + g_1 \ (\text{heavy ball}) \ \text{or}\ μ v_{t-1} + (1-μ) g_1 \ (\text{EMA}),

    Δ = c\,(I - VᵀV)\,\mathrm{base}(g_2) - α\, Vᵀ \mathrm{diag}(1/|λ|)\, V v_t,

  with c = clip(λ_max / λ_k, 1, `learning_rate_clip`) (the base optimizer sees a Hessian
  whose top eigenvalues are removed, so its step may grow). Before the first estimate V = 0
  and FOSI is the base optimizer. Parameters are flattened into one vector.

  Args:
    base_optimizer: a full optax optimizer (with its learning rate) on the flat vector.
    momentum: μ of the subspace velocity (the base optimizer's momentum).
    velocity_mode: "heavy_ball" (for SGD with momentum) or "ema" (for Adam).
    alpha: α, the Newton step size on the subspace.
    num_eigs: k.
    lanczos_iters: Lanczos steps per estimate (≥ k).
    update_interval: steps between estimates (may be traced).
    warmup: step of the first estimate.
    learning_rate_clip: upper clip of the base-step scaling c (1 for Adam).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Sivan, Gabel & Schuster, FOSI: Hybrid First and Second Order Optimization,
    https://arxiv.org/abs/2302.08484
  """
  if num_eigs < 1 or lanczos_iters < num_eigs:
    raise ValueError(f"need 1 <= num_eigs <= lanczos_iters, got {num_eigs}, {lanczos_iters}.")
  if velocity_mode not in ("heavy_ball", "ema"):
    raise ValueError(f"velocity_mode must be 'heavy_ball' or 'ema', got {velocity_mode!r}.")
  if learning_rate_clip < 1:
    raise ValueError(f"learning_rate_clip must be >= 1, got {learning_rate_clip}.")

  def init_fn(params):
    flat = ravel_pytree(params)[0].astype(jnp.float32)
    d = flat.shape[0]
    return FosiState(
      count=jnp.zeros((), jnp.int32),
      velocity=jnp.zeros((d,), jnp.float32),
      eigvecs=jnp.zeros((num_eigs, d), jnp.float32),
      inv_eigvals=jnp.zeros((num_eigs,), jnp.float32),
      scaling=jnp.ones((), jnp.float32),
      base_state=base_optimizer.init(flat),
    )

  def estimate(params, value_fn, key):
    matvec, flat = hessian.flat_hvp(value_fn, params)
    v0 = jax.random.rademacher(key, flat.shape, jnp.float32)
    values, vectors = hessian.lanczos_eigh(matvec, v0, lanczos_iters)
    top_vals, top_vecs = values[-num_eigs:], vectors[-num_eigs:]  # ascending: λ_k .. λ_max
    ok = jnp.abs(top_vals) > 1e-12
    inv = jnp.where(ok, 1.0 / jnp.where(ok, jnp.abs(top_vals), 1.0), 0.0)
    top_vecs = jnp.where(ok[:, None], top_vecs, 0.0)
    ratio = jnp.where(ok[0], jnp.abs(top_vals[-1]) * inv[0], 1.0)
    return top_vecs, inv, jnp.clip(ratio, 1.0, learning_rate_clip)

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("fosi needs `params` and the extra args `value_fn` and `key`.")
    refresh = (state.count >= warmup) & ((state.count - warmup) % update_interval == 0)
    eigvecs, inv, scaling = jax.lax.cond(
      refresh,
      lambda: estimate(params, value_fn, key),
      lambda: (state.eigvecs, state.inv_eigvals, state.scaling),
    )
    g, unravel = ravel_pytree(updates)
    g = g.astype(jnp.float32)
    flat_params = ravel_pytree(params)[0].astype(jnp.float32)
    g1 = eigvecs.T @ (eigvecs @ g)
    g2 = g - g1
    if velocity_mode == "heavy_ball":
      velocity = momentum * state.velocity + g1
    else:
      velocity = momentum * state.velocity + (1 - momentum) * g1
    newton = eigvecs.T @ (inv * (eigvecs @ velocity))
    base, base_state = base_optimizer.update(g2, state.base_state, flat_params)
    base = base - eigvecs.T @ (eigvecs @ base)
    delta = scaling * base - alpha * newton
    out = jax.tree.map(lambda o, u: o.astype(u.dtype), unravel(delta), updates)
    return out, FosiState(
      count=optax.safe_increment(state.count),
      velocity=velocity,
      eigvecs=eigvecs,
      inv_eigvals=inv,
      scaling=scaling,
      base_state=base_state,
    )

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def fosi(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  base: Base = "adam",
  momentum: float = 0.9,
  alpha: float = 0.1,
  num_eigs: int = 5,
  lanczos_iters: int = 20,
  update_interval: jax.typing.ArrayLike = 100,
  warmup: jax.typing.ArrayLike = 100,
) -> optax.GradientTransformationExtraArgs:
  """FOSI with Adam (`base="adam"`, c ≤ 1) or heavy-ball SGD (`base="momentum"`, c ≤ 3).

  Args:
    learning_rate: the base optimizer's learning rate.
    base: "adam" or "momentum".
    momentum: the base optimizer's β_1 / momentum, also used for the subspace velocity.
    alpha, num_eigs, lanczos_iters, update_interval, warmup: see `fosi_transform`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Sivan, Gabel & Schuster, FOSI: Hybrid First and Second Order Optimization,
    https://arxiv.org/abs/2302.08484
  """
  if base not in _BASES:
    raise ValueError(f"base must be one of {_BASES}, got {base!r}.")
  if base == "adam":
    opt, mode, clip = optax.adam(learning_rate, b1=momentum), "ema", 1.0
  else:
    opt, mode, clip = optax.sgd(learning_rate, momentum=momentum), "heavy_ball", 3.0
  return fosi_transform(
    opt,
    momentum,
    mode,
    alpha=alpha,
    num_eigs=num_eigs,
    lanczos_iters=lanczos_iters,
    update_interval=update_interval,
    warmup=warmup,
    learning_rate_clip=clip,
  )

"""Adam under μP's per-layer learning-rate prescription, with Adam's ε scaled with width."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

Role = Literal["input", "hidden", "output", "vector"]
ROLES = ("input", "hidden", "output", "vector")


class ScaleByMupAdamState(NamedTuple):
  """State of `scale_by_mup_adam`."""

  count: jax.Array  # int32 step count
  mu: optax.Updates  # first moment, float32
  nu: optax.Updates  # second moment, float32


def default_roles(params: Any) -> Any:
  """Matrices and higher-rank tensors are "hidden", vectors and scalars "vector"."""
  return jax.tree.map(lambda p: "hidden" if jnp.ndim(p) >= 2 else "vector", params)


def lr_multipliers(roles: Any, width_mult: float) -> Any:
  """μP's per-layer Adam learning-rate multipliers: 1/width_mult for hidden and output weights,
  1 for input (embedding) weights and vectors (biases, gains)."""

  def one(role):
    if role not in ROLES:
      raise ValueError(f"Unknown role {role!r}; allowed: {ROLES}.")
    return 1.0 / width_mult if role in ("hidden", "output") else 1.0

  return jax.tree.map(one, roles)


def scale_by_mup_adam(
  width_mult: float = 1.0,
  roles: Callable[[Any], Any] | Any | None = None,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  r"""Adam's direction with μP's per-layer multipliers and width-scaled ε.

  With r = width / base_width (`width_mult`), per parameter tensor l:

    m_t = b1 m_{t-1} + (1 - b1) g_t,   v_t = b2 v_{t-1} + (1 - b2) g_t²
    direction_l = c_l · m̂_t / (sqrt(v̂_t) + ε / r)
    c_l = 1/r for hidden and output weights, 1 for input weights and vectors

  so hyperparameters tuned at the base width transfer to width r · base (Adam's μP table),
  and ε shrinks like the Θ(1/width) gradients it is compared with.

  Args:
    width_mult: width divided by the width the hyperparameters were tuned at (> 0).
    roles: a pytree of roles ("input", "hidden", "output", "vector") matching the params, or
      a callable params -> such a pytree; None: `default_roles` (all matrices "hidden").
    b1, b2, eps: Adam's, as tuned at the base width.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Yang & Littwin, Tensor Programs IVb: Adaptive Optimization in the Infinite-Width Limit,
    https://arxiv.org/abs/2308.01814; Everett et al., Scaling Exponents Across
    Parameterizations and Optimizers, https://arxiv.org/abs/2407.05872
  """
  if width_mult <= 0:
    raise ValueError(f"width_mult must be > 0, got {width_mult}.")

  def resolve(params):
    if roles is None:
      return default_roles(params)
    return roles(params) if callable(roles) else roles

  def init_fn(params):
    lr_multipliers(resolve(params), width_mult)  # validates the roles early
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByMupAdamState(
      count=jnp.zeros((), jnp.int32),
      mu=jax.tree.map(zeros, params),
      nu=jax.tree.map(zeros, params),
    )

  def update_fn(updates, state, params=None):
    mults = lr_multipliers(resolve(updates if params is None else params), width_mult)
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g32)
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, g32)
    count = optax.safe_increment(state.count)
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** count.astype(jnp.float32)
    scaled_eps = eps / width_mult
    out = jax.tree.map(
      lambda m, v, c, g: (c * (m / c1) / (jnp.sqrt(v / c2) + scaled_eps)).astype(g.dtype),
      mu,
      nu,
      mults,
      updates,
    )
    return out, ScaleByMupAdamState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def mup_adam(
  learning_rate: optax.ScalarOrSchedule,
  width_mult: float = 1.0,
  roles: Callable[[Any], Any] | Any | None = None,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AdamW with μP's per-layer learning rates: p -= lr · (direction_l + wd · p).

  Args:
    learning_rate: the base learning rate, tuned at the base width.
    width_mult, roles, b1, b2, eps: see `scale_by_mup_adam`.
    weight_decay: decoupled weight decay (multiplied by the learning rate).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Yang & Littwin, Tensor Programs IVb, https://arxiv.org/abs/2308.01814;
    Everett et al., Scaling Exponents Across Parameterizations and Optimizers,
    https://arxiv.org/abs/2407.05872
  """
  return optax.chain(
    scale_by_mup_adam(width_mult=width_mult, roles=roles, b1=b1, b2=b2, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

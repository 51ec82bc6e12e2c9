"""AdaHessian: Adam with a Hutchinson estimate of the Hessian diagonal as second moment."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import hessian


class ScaleByAdaHessianState(NamedTuple):
  """State of `scale_by_adahessian`."""

  count: jax.Array  # int32 step count
  hessian_count: jax.Array  # int32 number of Hessian refreshes so far
  mu: optax.Updates  # float32 EMA of gradients
  nu: optax.Updates  # float32 EMA of the squared (spatially averaged) Hessian diagonal


def spatial_average(d: jax.Array) -> jax.Array:
  """|D| averaged over the spatial axes of a conv kernel (all but the last two, HWIO).

  Tensors of rank ≤ 2 are returned as |D| (no averaging), as in the authors' code.
  """
  d = jnp.abs(d)
  if d.ndim <= 2:
    return d
  axes = tuple(range(d.ndim - 2))
  return jnp.broadcast_to(jnp.mean(d, axis=axes, keepdims=True), d.shape)


def scale_by_adahessian(
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-4,
  hessian_power: float = 1.0,
  update_interval: jax.typing.ArrayLike = 1,
) -> optax.GradientTransformationExtraArgs:
  r"""The AdaHessian direction (positive sign; negate to descend).

  .. math::
    D_t = z ⊙ ∇²f(θ_t) z \ (z \text{ Rademacher}),\quad
    D^{(s)}_t = \text{spatial average of } |D_t| \text{ (conv kernels)},

    m_t = β_1 m_{t-1} + (1-β_1) g_t,\quad v_t = β_2 v_{t-1} + (1-β_2) D^{(s)}_t ⊙ D^{(s)}_t,

    u_t = \frac{m_t / (1-β_1^t)}{(\sqrt{v_t / (1-β_2^{n_t})})^{k} + ε}.

  The Hessian diagonal is refreshed (and `v` updated) only every `update_interval` steps
  (a `lax.cond` on the step count, so the interval may be a traced array); `n_t` counts the
  refreshes. Spatial averaging (the paper's variance reduction) applies to tensors of rank
  ≥ 3 over all but their last two axes (the spatial axes of HWIO conv kernels); rank ≤ 2
  tensors use |D| per entry.

  Args:
    b1: β_1, decay of the gradient EMA.
    b2: β_2, decay of the Hessian-diagonal EMA.
    eps: ε added to the denominator.
    hessian_power: k ∈ (0, 1], the power of the denominator.
    update_interval: refresh the Hessian diagonal every this many steps (≥ 1).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra args
    `value_fn` and `key`.

  References:
    Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, ADAHESSIAN: An Adaptive Second Order
    Optimizer for Machine Learning, https://arxiv.org/abs/2006.00719
  """
  if not 0 <= b1 < 1:
    raise ValueError(f"b1 must be in [0, 1), got {b1}.")
  if not 0 <= b2 < 1:
    raise ValueError(f"b2 must be in [0, 1), got {b2}.")
  if eps <= 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  if not 0 < hessian_power <= 1:
    raise ValueError(f"hessian_power must be in (0, 1], got {hessian_power}.")
  if isinstance(update_interval, int) and update_interval < 1:
    raise ValueError(f"update_interval must be an integer >= 1, got {update_interval}.")

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByAdaHessianState(
      count=jnp.zeros((), jnp.int32),
      hessian_count=jnp.zeros((), jnp.int32),
      mu=jax.tree.map(zeros, params),
      nu=jax.tree.map(zeros, params),
    )

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("adahessian needs `params` and the extra args `value_fn` and `key`.")
    count = optax.safe_increment(state.count)
    refresh = state.count % update_interval == 0

    def new_nu(nu):
      diag = jax.tree.map(spatial_average, hessian.hutchinson_diag(value_fn, params, key))
      return jax.tree.map(lambda v, d: b2 * v + (1 - b2) * d * d, nu, diag)

    nu = jax.lax.cond(refresh, new_nu, lambda nu: nu, state.nu)
    hessian_count = state.hessian_count + refresh.astype(jnp.int32)
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g.astype(jnp.float32), state.mu, updates)
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** jnp.maximum(hessian_count, 1).astype(jnp.float32)
    out = jax.tree.map(
      lambda m, v, g: ((m / c1) / (jnp.sqrt(v / c2) ** hessian_power + eps)).astype(g.dtype),
      mu,
      nu,
      updates,
    )
    return out, ScaleByAdaHessianState(count=count, hessian_count=hessian_count, mu=mu, nu=nu)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def adahessian(
  learning_rate: optax.ScalarOrSchedule = 0.15,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-4,
  weight_decay: float = 0.0,
  hessian_power: float = 1.0,
  update_interval: jax.typing.ArrayLike = 1,
) -> optax.GradientTransformationExtraArgs:
  """AdaHessian: θ ← θ − η (u_t + λθ), with u_t from `scale_by_adahessian` (decoupled decay).

  Args:
    learning_rate: η (0.15 in the paper's code).
    b1, b2, eps, hessian_power, update_interval: see `scale_by_adahessian`.
    weight_decay: λ, decoupled as in the authors' code.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Yao et al., ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning,
    https://arxiv.org/abs/2006.00719
  """
  return optax.chain(
    scale_by_adahessian(
      b1=b1, b2=b2, eps=eps, hessian_power=hessian_power, update_interval=update_interval
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

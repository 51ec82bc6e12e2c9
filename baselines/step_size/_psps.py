"""Preconditioned stochastic Polyak step (PSPS): SPS measured in the norm of a diagonal
preconditioner (Hutchinson's Hessian-diagonal estimate, Adam's or AdaGrad's)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.curvature import hessian

PspsPreconditioner = Literal["hutchinson", "adam", "adagrad"]
_PRECONDITIONERS = ("hutchinson", "adam", "adagrad")


class ScaleByPspsState(NamedTuple):
  """State of `scale_by_psps`."""

  count: jax.Array  # int32 step count
  diag: optax.Updates  # float32 running statistic: Hessian-diagonal EMA, or g² EMA / sum


def hutchinson_diag(value_fn: Callable[[Any], jax.Array], params: Any, key: jax.Array) -> Any:
  """One Hutchinson sample z ⊙ (∇²f(params) z), z Rademacher, as float32.

  Built from `baselines.curvature.hessian`'s probe and HVP with the probe drawn from `key` itself.
  (`hessian.hutchinson_diag(value_fn, params, key)` draws its probe from
  `jax.random.split(key, 1)[0]`, a different sample for the same key, so it is not used
  here: PSPS and SANIA keep the probes they always drew.)

  Args:
    value_fn: params -> scalar loss on the current batch.
    params: where the Hessian is taken.
    key: PRNG key for the Rademacher probe.

  Returns:
    A float32 pytree shaped like `params`.
  """
  z = hessian.rademacher_probe(key, params)
  hz = hessian.hvp(value_fn, params, z)
  return jax.tree.map(lambda a, b: a.astype(jnp.float32) * b.astype(jnp.float32), z, hz)


def _tree_sum(tree) -> jax.Array:
  return sum((jnp.sum(x) for x in jax.tree.leaves(tree)), start=jnp.zeros((), jnp.float32))


def update_diag_statistic(
  kind: str,
  state_diag: Any,
  count: jax.Array,
  grads: Any,
  b2: float,
  params: Any = None,
  value_fn: Callable[[Any], jax.Array] | None = None,
  key: jax.Array | None = None,
) -> Any:
  """The running statistic of `kind`: Hutchinson EMA, g² EMA (adam), or g² sum (adagrad).

  The Hutchinson EMA starts at the first sample (D_0 = z_0 ⊙ H z_0), then
  D_t = b2 D_{t-1} + (1 - b2) z_t ⊙ H_t z_t.
  """
  g32 = jax.tree.map(lambda g: g.astype(jnp.float32), grads)
  if kind == "hutchinson":
    if value_fn is None or key is None or params is None:
      raise ValueError("The 'hutchinson' preconditioner needs params and the value_fn, key args.")
    h = hutchinson_diag(value_fn, params, key)
    return jax.tree.map(lambda d, x: jnp.where(count == 0, x, b2 * d + (1 - b2) * x), state_diag, h)
  if kind in ("adam", "adam_sqr"):
    return jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state_diag, g32)
  return jax.tree.map(lambda v, g: v + g * g, state_diag, g32)


def scale_by_psps(
  preconditioner: PspsPreconditioner = "hutchinson",
  b2: float = 0.999,
  alpha: float = 1e-4,
  eps: float = 1e-8,
  f_star: float = 0.0,
  max_step_size: float = math.inf,
) -> optax.GradientTransformationExtraArgs:
  r"""The PSPS direction γ_t B_t^{-1} g_t (positive sign; negate to descend).

    γ_t = min(max_step_size, [f(x_t) - f*]_+ / (g_tᵀ B_t^{-1} g_t))

  with the diagonal B_t from `preconditioner`:

    hutchinson: D_t = b2 D_{t-1} + (1 - b2) z ⊙ ∇²f z  (z Rademacher, D_0 = first sample),
                B_t = max(alpha, |D_t|)
    adam:       v_t = b2 v_{t-1} + (1 - b2) g², B_t = sqrt(v_t / (1 - b2^t)) + eps
    adagrad:    v_t = v_{t-1} + g²,             B_t = sqrt(v_t) + eps

  Args:
    preconditioner: "hutchinson", "adam" or "adagrad".
    b2: EMA decay of the Hutchinson estimate or of Adam's second moment.
    alpha: floor of |D| for the Hutchinson preconditioner.
    eps: added to the square root for adam and adagrad.
    f_star: lower bound f* of the loss (0 under interpolation).
    max_step_size: cap on γ_t (inf: the paper's uncapped step).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `value` (the loss at params),
    and `value_fn` and `key` for the Hutchinson preconditioner.

  References:
    Abdukhakimov, Xiang, Kamzolov & Takáč, Stochastic Gradient Descent with Preconditioned
    Polyak Step-size, https://arxiv.org/abs/2310.02093
  """
  if preconditioner not in _PRECONDITIONERS:
    raise ValueError(f"preconditioner must be one of {_PRECONDITIONERS}, got {preconditioner!r}.")
  if not 0 <= b2 < 1:
    raise ValueError(f"b2 must be in [0, 1), got {b2}.")

  def init_fn(params):
    return ScaleByPspsState(
      count=jnp.zeros((), jnp.int32),
      diag=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
    )

  def update_fn(updates, state, params=None, *, value, value_fn=None, key=None, **extra_args):
    del extra_args
    diag = update_diag_statistic(
      preconditioner, state.diag, state.count, updates, b2, params, value_fn, key
    )
    count = optax.safe_increment(state.count)
    if preconditioner == "hutchinson":
      precond = jax.tree.map(lambda d: jnp.maximum(alpha, jnp.abs(d)), diag)
    elif preconditioner == "adam":
      correction = 1 - b2 ** count.astype(jnp.float32)
      precond = jax.tree.map(lambda v: jnp.sqrt(v / correction) + eps, diag)
    else:
      precond = jax.tree.map(lambda v: jnp.sqrt(v) + eps, diag)
    direction = jax.tree.map(lambda g, b: g.astype(jnp.float32) / b, updates, precond)
    gbg = _tree_sum(jax.tree.map(lambda g, s: g.astype(jnp.float32) * s, updates, direction))
    gap = jnp.maximum(jnp.asarray(value, jnp.float32) - f_star, 0.0)
    step = jnp.where(gbg > 0, gap / jnp.where(gbg > 0, gbg, 1.0), 0.0)
    step = jnp.minimum(step, max_step_size)
    out = jax.tree.map(lambda s, g: (step * s).astype(g.dtype), direction, updates)
    return out, ScaleByPspsState(count=count, diag=diag)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def psps(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  preconditioner: PspsPreconditioner = "hutchinson",
  b2: float = 0.999,
  alpha: float = 1e-4,
  eps: float = 1e-8,
  f_star: float = 0.0,
  max_step_size: float = math.inf,
) -> optax.GradientTransformationExtraArgs:
  """PSPS: x_{t+1} = x_t - lr · γ_t B_t^{-1} g_t (see `scale_by_psps`; lr = 1 in the paper).

  Args:
    learning_rate: multiplier of the Polyak step (1.0: step-size free).
    preconditioner, b2, alpha, eps, f_star, max_step_size: see `scale_by_psps`.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  References:
    Abdukhakimov, Xiang, Kamzolov & Takáč, Stochastic Gradient Descent with Preconditioned
    Polyak Step-size, https://arxiv.org/abs/2310.02093
  """
  return optax.chain(
    scale_by_psps(
      preconditioner=preconditioner,
      b2=b2,
      alpha=alpha,
      eps=eps,
      f_star=f_star,
      max_step_size=max_step_size,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )

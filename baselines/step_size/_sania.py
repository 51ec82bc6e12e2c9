"""SANIA: a Polyak-type step that solves a quadratic model in the preconditioner's norm; with
un-square-rooted preconditioners (AdaGrad-SQR, Adam-SQR) it is scale invariant."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.step_size._psps import update_diag_statistic

SaniaPreconditioner = Literal["adagrad_sqr", "adam_sqr", "hutchinson", "identity"]
_PRECONDITIONERS = ("adagrad_sqr", "adam_sqr", "hutchinson", "identity")


class ScaleBySaniaState(NamedTuple):
  """State of `scale_by_sania`."""

  count: jax.Array  # int32 step count
  diag: optax.Updates  # float32 running statistic (Σg², EMA of g², or Hutchinson EMA)


def _tree_sum(tree) -> jax.Array:
  return sum((jnp.sum(x) for x in jax.tree.leaves(tree)), start=jnp.zeros((), jnp.float32))


def scale_by_sania(
  preconditioner: SaniaPreconditioner = "adagrad_sqr",
  b2: float = 0.999,
  eps: float = 0.1,
  f_star: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  r"""The SANIA direction τ_t B_t^{-1} g_t (positive sign; negate to descend).

  The step solves  min_x ‖x - x_t‖²_{B_t}  s.t.  f_t + ⟨g_t, d⟩ + ½‖d‖²_{B_t} = f*  along
  d = -τ B_t^{-1} g_t. With a = g_tᵀ B_t^{-1} g_t and c = [f(x_t) - f*]_+ / a:

    τ_t = 1 - sqrt(1 - 2c)   if 2c ≤ 1,
    τ_t = 1                  otherwise (no root: step to the model's minimizer),

  and the diagonal B_t from `preconditioner` (without square roots: scale invariant):

    adagrad_sqr: v_t = v_{t-1} + g²,                     B_t = max(eps, v_t)
    adam_sqr:    v_t = b2 v_{t-1} + (1 - b2) g²,         B_t = max(eps, v_t / (1 - b2^t))
    hutchinson:  D_t = b2 D_{t-1} + (1 - b2) z ⊙ ∇²f z,  B_t = max(eps, |D_t|)
    identity:    B_t = I

  Args:
    preconditioner: "adagrad_sqr", "adam_sqr", "hutchinson" or "identity".
    b2: EMA decay for adam_sqr and hutchinson.
    eps: floor of the diagonal B_t.
    f_star: lower bound f* of the loss (0 under interpolation).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `value`, and `value_fn` and
    `key` for the Hutchinson preconditioner.

  References:
    Abdukhakimov, Xiang, Kamzolov, Gower & Takáč, SANIA: Polyak-type Optimization Framework
    Leads to Scale Invariant Stochastic Algorithms, https://arxiv.org/abs/2312.17369
  """
  if preconditioner not in _PRECONDITIONERS:
    raise ValueError(f"preconditioner must be one of {_PRECONDITIONERS}, got {preconditioner!r}.")
  if not 0 <= b2 < 1:
    raise ValueError(f"b2 must be in [0, 1), got {b2}.")
  if eps <= 0:
    raise ValueError(f"eps must be > 0, got {eps}.")

  def init_fn(params):
    return ScaleBySaniaState(
      count=jnp.zeros((), jnp.int32),
      diag=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
    )

  def update_fn(updates, state, params=None, *, value, value_fn=None, key=None, **extra_args):
    del extra_args
    count = optax.safe_increment(state.count)
    if preconditioner == "identity":
      diag = state.diag
      precond = jax.tree.map(jnp.ones_like, diag)
    else:
      diag = update_diag_statistic(
        preconditioner, state.diag, state.count, updates, b2, params, value_fn, key
      )
      if preconditioner == "adam_sqr":
        correction = 1 - b2 ** count.astype(jnp.float32)
        precond = jax.tree.map(lambda v: jnp.maximum(eps, v / correction), diag)
      else:
        precond = jax.tree.map(lambda v: jnp.maximum(eps, jnp.abs(v)), diag)
    direction = jax.tree.map(lambda g, b: g.astype(jnp.float32) / b, updates, precond)
    a = _tree_sum(jax.tree.map(lambda g, s: g.astype(jnp.float32) * s, updates, direction))
    gap = jnp.maximum(jnp.asarray(value, jnp.float32) - f_star, 0.0)
    c = jnp.where(a > 0, gap / jnp.where(a > 0, a, 1.0), 0.0)
    # 1 - sqrt(1 - 2c), written as 2c / (1 + sqrt(1 - 2c)) to avoid cancellation for small c.
    tau = jnp.where(2 * c <= 1, 2 * c / (1 + jnp.sqrt(jnp.maximum(1 - 2 * c, 0.0))), 1.0)
    out = jax.tree.map(lambda s, g: (tau * s).astype(g.dtype), direction, updates)
    return out, ScaleBySaniaState(count=count, diag=diag)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sania(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  preconditioner: SaniaPreconditioner = "adagrad_sqr",
  b2: float = 0.999,
  eps: float = 0.1,
  f_star: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """SANIA: x_{t+1} = x_t - lr · τ_t B_t^{-1} g_t (see `scale_by_sania`; lr = 1 in the paper).

  Args:
    learning_rate: multiplier of the step (1.0: step-size free).
    preconditioner, b2, eps, f_star: see `scale_by_sania`.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  References:
    Abdukhakimov, Xiang, Kamzolov, Gower & Takáč, SANIA: Polyak-type Optimization Framework
    Leads to Scale Invariant Stochastic Algorithms, https://arxiv.org/abs/2312.17369
  """
  return optax.chain(
    scale_by_sania(preconditioner=preconditioner, b2=b2, eps=eps, f_star=f_star),
    optax.scale_by_learning_rate(learning_rate),
  )

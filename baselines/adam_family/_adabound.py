"""AdaBound and AMSBound: Adam with dynamic bounds on the step size (Luo et al., 2019)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByAdaBoundState(NamedTuple):
  """State of `scale_by_adabound`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment
  nu: optax.Updates  # second moment
  nu_max: optax.Updates | None  # running max of nu (AMSBound only)


def scale_by_adabound(
  *,
  final_lr_ratio: jax.typing.ArrayLike,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  gamma: float = 1e-3,
  amsbound: bool = False,
) -> optax.GradientTransformation:
  r"""The direction of AdaBound (or AMSBound), in units of the learning rate `α`.

  .. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t, \quad v_t = β_2 v_{t-1} + (1-β_2) g_t^2
    \ (\text{AMSBound: } v_t \leftarrow \max(v_{t-1}^{\max}, v_t)),

    a_t = \frac{\sqrt{1-β_2^t}}{1-β_1^t} \frac{1}{\sqrt{v_t} + ε}, \quad
    u_t = \mathrm{clip}\!\left(a_t,\ r\,(1 - \tfrac{1}{γt+1}),\ r\,(1 + \tfrac{1}{γt})\right) m_t,

  where `r = α*/α` is the final (SGD) learning rate over the learning rate. Multiplied by `α`
  this clips the per-coordinate Adam step size `α a_t` to `[η_l(t), η_u(t)]` with
  `η_l(t) = α*(1 - 1/(γt+1))`, `η_u(t) = α*(1 + 1/(γt))`, as in the authors' code (where a
  learning-rate schedule scales `α*` along with `α`).

  Args:
    final_lr_ratio: `r = α*/α`.
    b1: `β_1`, in [0, 1).
    b2: `β_2`, in [0, 1).
    eps: added to `√v_t`.
    gamma: convergence speed `γ > 0` of the bounds.
    amsbound: use the running max of `v_t` (AMSBound).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Luo, Xiong, Liu & Sun, Adaptive Gradient Methods with Dynamic Bound of Learning Rate,
    ICLR 2019, https://arxiv.org/abs/1902.09843
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  if not gamma > 0:
    raise ValueError(f"gamma must be > 0, got {gamma}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByAdaBoundState(
      count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros(), nu_max=zeros() if amsbound else None
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    mu = optax.tree.update_moment(updates, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu) if amsbound else state.nu_max
    denom_src = nu_max if amsbound else nu
    step = jnp.sqrt(_one_minus_pow(b2, t)) / _one_minus_pow(b1, t)
    lower = final_lr_ratio * (1.0 - 1.0 / (gamma * t + 1.0))
    upper = final_lr_ratio * (1.0 + 1.0 / (gamma * t))

    def direction(m, v, g):
      a = step / (jnp.sqrt(v) + eps)
      return (jnp.clip(a, lower, upper) * m).astype(g.dtype)

    return jax.tree.map(direction, mu, denom_src, updates), ScaleByAdaBoundState(
      count=count, mu=mu, nu=nu, nu_max=nu_max
    )

  return optax.GradientTransformation(init_fn, update_fn)


def _initial_lr(learning_rate: optax.ScalarOrSchedule):
  return learning_rate(0) if callable(learning_rate) else learning_rate


def adabound(
  learning_rate: optax.ScalarOrSchedule,
  *,
  final_lr: float = 0.1,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  gamma: float = 1e-3,
  weight_decay: float = 0.0,
  amsbound: bool = False,
) -> optax.GradientTransformation:
  """AdaBound; see `scale_by_adabound`. `weight_decay` is L2 added to the gradient (as in
  the authors' code); `final_lr` is relative to the initial learning rate of a schedule.

  Example:
    >>> opt = adabound(learning_rate=1e-3, final_lr=0.1)
  """
  return optax.chain(
    optax.add_decayed_weights(weight_decay),
    scale_by_adabound(
      final_lr_ratio=final_lr / _initial_lr(learning_rate),
      b1=b1,
      b2=b2,
      eps=eps,
      gamma=gamma,
      amsbound=amsbound,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )


def amsbound(
  learning_rate: optax.ScalarOrSchedule,
  *,
  final_lr: float = 0.1,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  gamma: float = 1e-3,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AMSBound: AdaBound on the running max of the second moment; see `scale_by_adabound`.

  Example:
    >>> opt = amsbound(learning_rate=1e-3, final_lr=0.1)
  """
  return adabound(
    learning_rate,
    final_lr=final_lr,
    b1=b1,
    b2=b2,
    eps=eps,
    gamma=gamma,
    weight_decay=weight_decay,
    amsbound=True,
  )

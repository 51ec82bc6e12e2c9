"""AdamNC: Adam with a non-constant second-moment decay (Reddi, Kale & Kumar, 2018)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByAdamNCState(NamedTuple):
  """State of `scale_by_adamnc`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment m_t
  nu: optax.Updates  # running mean of g², v_t


def scale_by_adamnc(
  *, b1: float = 0.9, b1_decay: float = 1.0, eps: float = 1e-8, step_decay: bool = True
) -> optax.GradientTransformation:
  r"""The direction of AdamNC.

  With `β_{1,t} = β_1 λ^{t-1}` and `β_{2,t} = 1 - 1/t` (so `v_t` is the plain mean of the
  squared gradients seen so far, as in AdaGrad), and no bias correction:

  .. math::
    m_t = β_{1,t} m_{t-1} + (1 - β_{1,t}) g_t, \quad
    v_t = (1 - 1/t) v_{t-1} + g_t^2 / t, \quad
    u_t = \frac{1}{\sqrt{t}} \frac{m_t}{\sqrt{v_t} + ε}.

  The `1/√t` factor is the paper's step size `α_t = α/√t` (`step_decay=False` drops it). With
  `β_1 = 0` and the factor, this is AdaGrad.

  Args:
    b1: `β_1`, in [0, 1).
    b1_decay: `λ` in (0, 1]; the paper's analysis takes `λ < 1`, 1 keeps `β_1` constant.
    eps: added to `√v_t` (the paper has none; kept small for numerical safety).
    step_decay: multiply by `1/√t` (the paper's `α_t = α/√t`).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Reddi, Kale & Kumar, On the Convergence of Adam and Beyond, ICLR 2018,
    https://arxiv.org/abs/1904.09237
  """
  if not 0.0 <= b1 < 1.0:
    raise ValueError(f"b1 must be in [0, 1), got {b1}.")
  if not 0.0 < b1_decay <= 1.0:
    raise ValueError(f"b1_decay must be in (0, 1], got {b1_decay}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByAdamNCState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros())

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    b1_t = b1 * b1_decay ** (t - 1.0)
    mu = jax.tree.map(lambda m, g: (b1_t * m + (1.0 - b1_t) * g).astype(m.dtype), state.mu, updates)
    nu = jax.tree.map(
      lambda v, g: ((1.0 - 1.0 / t) * v + g * g / t).astype(v.dtype), state.nu, updates
    )
    scale = jax.lax.rsqrt(t) if step_decay else jnp.ones([], jnp.float32)
    direction = jax.tree.map(
      lambda m, v, g: (scale * m / (jnp.sqrt(v) + eps)).astype(g.dtype), mu, nu, updates
    )
    return direction, ScaleByAdamNCState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def adamnc(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b1_decay: float = 1.0,
  eps: float = 1e-8,
  step_decay: bool = True,
) -> optax.GradientTransformation:
  """AdamNC; see `scale_by_adamnc`.

  Example:
    >>> opt = adamnc(learning_rate=1e-2)
  """
  return optax.chain(
    scale_by_adamnc(b1=b1, b1_decay=b1_decay, eps=eps, step_decay=step_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""diffGrad: Adam damped where the gradient changes little (Dubey et al., 2019)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _one_minus_pow(decay: float, t: jax.Array) -> jax.Array:
  """`1 - decay**t`, without float32 cancellation when `decay` is close to 1."""
  return -jnp.expm1(t * math.log(decay)) if decay > 0 else jnp.ones_like(t)


class ScaleByDiffGradState(NamedTuple):
  """State of `scale_by_diffgrad`."""

  count: jax.Array  # int32 step counter
  mu: optax.Updates  # first moment
  nu: optax.Updates  # second moment
  prev_grad: optax.Updates  # g_{t-1} (zeros before the first step)


def scale_by_diffgrad(
  *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_after_correction: bool = False
) -> optax.GradientTransformation:
  r"""The direction of diffGrad.

  .. math::
    ξ_t = \mathrm{sigmoid}(|g_{t-1} - g_t|), \qquad
    u_t = ξ_t \frac{\sqrt{1-β_2^t}}{1-β_1^t} \frac{m_t}{\sqrt{v_t} + ε},

  with `m_t`, `v_t` Adam's moments and `g_0 = 0`: ε on the uncorrected root, as the authors'
  code (shivram1987/diffGrad `diffGrad_v2.py`, the version that keeps `g_{t-1}`);
  `eps_after_correction=True` gives the paper's `ξ_t m̂_t / (√v̂_t + ε)`. The friction `ξ_t`
  lies in [0.5, 1): the step halves where the gradient stays put and is Adam's where it
  changes fast.

  Args:
    b1: `β_1`, in [0, 1).
    b2: `β_2`, in [0, 1).
    eps: added to `√v_t` (or `√v̂_t`).
    eps_after_correction: add `eps` to the bias-corrected root (the paper) instead of the
      uncorrected one (the authors' code).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Dubey, Chakraborty, Roy, Mukherjee, Singh & Chaudhuri, diffGrad: An Optimization Method
    for Convolutional Neural Networks, IEEE TNNLS 2019, https://arxiv.org/abs/1909.11015
  """
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    return ScaleByDiffGradState(
      count=jnp.zeros([], jnp.int32), mu=zeros(), nu=zeros(), prev_grad=zeros()
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    mu = optax.tree.update_moment(updates, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    t = count.astype(jnp.float32)
    c1, c2 = _one_minus_pow(b1, t), _one_minus_pow(b2, t)

    def direction(m, v, prev, g):
      xi = jax.nn.sigmoid(jnp.abs(prev - g))
      if eps_after_correction:
        u = (m / c1) / (jnp.sqrt(v / c2) + eps)
      else:
        u = jnp.sqrt(c2) / c1 * m / (jnp.sqrt(v) + eps)
      return (xi * u).astype(g.dtype)

    prev_grad = jax.tree.map(lambda p, g: g.astype(p.dtype), state.prev_grad, updates)
    return jax.tree.map(direction, mu, nu, state.prev_grad, updates), ScaleByDiffGradState(
      count=count, mu=mu, nu=nu, prev_grad=prev_grad
    )

  return optax.GradientTransformation(init_fn, update_fn)


def diffgrad(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  eps_after_correction: bool = False,
) -> optax.GradientTransformation:
  """diffGrad; see `scale_by_diffgrad`.

  Example:
    >>> opt = diffgrad(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_diffgrad(b1=b1, b2=b2, eps=eps, eps_after_correction=eps_after_correction),
    optax.scale_by_learning_rate(learning_rate),
  )

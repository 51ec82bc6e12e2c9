"""SGD-SaI: SGD with momentum and a per-tensor learning-rate scale fixed at the first step."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleBySgdSaiState(NamedTuple):
  """State of `scale_by_sgd_sai`: the momentum and each tensor's g-SNR scale."""

  count: jax.Array
  gsnr: optax.Updates
  mu: optax.Updates


def _gsnr(g: jax.Array, eps: float) -> jax.Array:
  """||g|| / (std(g) + eps) (unbiased std); ||g|| where the std is 0 (see `scale_by_sgd_sai`)."""
  g = g.astype(jnp.float32)
  std = jnp.std(g, ddof=1) if g.size > 1 else jnp.zeros([], jnp.float32)
  norm = jnp.linalg.norm(g.ravel())
  return jnp.where(std > 0, norm / (std + eps), norm)


def scale_by_sgd_sai(momentum: float = 0.9, eps: float = 1e-8) -> optax.GradientTransformation:
  r"""The SGD-SaI direction.

  At the first step, per tensor, the gradient signal-to-noise ratio
  :math:`s = \|g_1\|_2 / (\mathrm{std}(g_1) + \epsilon)` is computed once and kept (unbiased
  std). Where the std is 0 (one-element tensors, or a constant gradient) :math:`s = \|g_1\|_2`,
  the rule of the authors' v1.0.2 (AnonymousAlethiometer/SGD_SaI `sgd_sai/sgd_sai.py`); their
  v1.0.3 replaces the NaN std of one element by 0 and divides by :math:`\epsilon` alone, a
  scale of order :math:`10^8 \|g_1\|`, which is not kept. Then

  .. math::
    m_1 = g_1,\quad m_t = \mu\,m_{t-1} + (1-\mu)\,g_t,\quad d_t = s\,m_t.

  Args:
    momentum: :math:`\mu`.
    eps: added to the standard deviation.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Xu et al., No More Adam: Learning Rate Scaling at Initialization is All You Need,
    https://arxiv.org/abs/2412.11768
  """
  if not 0.0 <= momentum < 1.0:
    raise ValueError(f"momentum must lie in [0, 1); got {momentum}.")
  if eps < 0:
    raise ValueError(f"eps must be >= 0; got {eps}.")

  def init_fn(params):
    return ScaleBySgdSaiState(
      count=jnp.zeros([], jnp.int32),
      gsnr=jax.tree.map(lambda p: jnp.zeros([], jnp.float32), params),
      mu=jax.tree.map(jnp.zeros_like, params),
    )

  def update_fn(updates, state, params=None):
    del params
    first = state.count == 0
    gsnr = jax.tree.map(lambda s, g: jnp.where(first, _gsnr(g, eps), s), state.gsnr, updates)
    mu = jax.tree.map(
      lambda m, g: jnp.where(first, g, momentum * m + (1 - momentum) * g).astype(g.dtype),
      state.mu,
      updates,
    )
    updates = jax.tree.map(lambda s, m: (s * m.astype(jnp.float32)).astype(m.dtype), gsnr, mu)
    return updates, ScaleBySgdSaiState(count=state.count + 1, gsnr=gsnr, mu=mu)

  return optax.GradientTransformation(init_fn, update_fn)


def sgd_sai(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  eps: float = 1e-8,
  weight_decay: float = 1e-2,
) -> optax.GradientTransformation:
  r"""SGD-SaI with decoupled weight decay.

  .. math:: \theta \leftarrow \theta - \eta(s\,m_t + \lambda\theta)

  Args:
    learning_rate: a scalar or a schedule.
    momentum, eps: see `scale_by_sgd_sai`.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformation`.

  Example:
    >>> opt = sgd_sai(learning_rate=1e-2)

  References:
    Xu et al., No More Adam: Learning Rate Scaling at Initialization is All You Need,
    https://arxiv.org/abs/2412.11768
  """
  return optax.chain(
    scale_by_sgd_sai(momentum=momentum, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""AdamP and SGDP: remove the radial part of the step on scale-invariant weights."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import axes


class ScaleByAdamPState(NamedTuple):
  """State of `scale_by_adamp`."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


class ScaleBySgdPState(NamedTuple):
  """State of `scale_by_sgdp`."""

  count: jax.Array
  mu: optax.Updates


def _project(p, g, step, layout, delta, eps):
  """The projected step and whether a projection happened (scalar bool).

  Tries the channel view (one unit per channel of `baselines.axes`: the output channel of a
  dense `(in, out)` or HWIO kernel, the token of a `(vocab, d)` embedding), then the layer
  view (one unit). A view whose largest |cos(w_c, g_c)| over its units is below
  delta / sqrt(unit size) marks the weight scale-invariant: the component of the step along
  each unit of w is removed.
  """
  if p.ndim <= 1:
    return step, jnp.zeros([], bool)
  p, g, step32 = (a.astype(jnp.float32) for a in (p, g, step))
  out, done = step32, jnp.zeros([], bool)
  for reduce in (axes.within_channel_axes(layout, p.ndim), tuple(range(p.ndim))):
    dot = lambda x, y, r=reduce: jnp.sum(x * y, axis=r, keepdims=True)
    norm_p, norm_g = jnp.sqrt(dot(p, p)), jnp.sqrt(dot(g, g))
    cos = jnp.abs(dot(p, g)) / (jnp.maximum(norm_p, eps) * jnp.maximum(norm_g, eps))
    size = math.prod(p.shape[a] for a in reduce)
    hit = jnp.max(cos) < delta / math.sqrt(size)
    unit = p / (norm_p + eps)
    projected = step32 - unit * dot(unit, step32)
    out = jnp.where(hit & ~done, projected, out)
    done = done | hit
  return out.astype(step.dtype), done


def scale_by_adamp(
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  delta: float = 0.1,
  wd_ratio: float = 0.1,
  nesterov: bool = False,
) -> optax.GradientTransformation:
  r"""The AdamP direction, weight decay included.

  .. math::
    m_t = \beta_1 m + (1-\beta_1) g,\quad v_t = \beta_2 v + (1-\beta_2) g^2,\quad
    p_t = \frac{m_t}{\sqrt{\hat v_t} + \epsilon}
    \ (\text{Nesterov: } \beta_1 m_t + (1-\beta_1) g \text{ in place of } m_t).

  For a weight :math:`w` with two or more axes, in the channel view (one unit :math:`w_r`
  per channel of `baselines.axes`: the output channel ``w[..., r]`` of a dense ``(in, out)``
  or HWIO kernel, the token row ``w[r, :]`` of a ``(vocab, d)`` embedding; the units of the
  authors' ``x.view(x.size(0), -1)`` on PyTorch's ``(out, in, ...)`` layout) and then the
  layer view (one unit, the whole tensor): if
  :math:`\max_r |\cos(w_r, g_r)| < \delta/\sqrt{\dim w_r}`, remove the radial part of each
  row, :math:`p_r \leftarrow p_r - (\hat w_r^\top p_r)\,\hat w_r` with
  :math:`\hat w_r = w_r/(\|w_r\|+\epsilon)`, and scale the weight decay by `wd_ratio`.
  Then :math:`d_t = p_t/(1-\beta_1^t) + \lambda\,r\,w` with :math:`r \in \{1, \mathrm{wd\_ratio}\}`.

  Args:
    b1, b2: moment decays.
    eps: added to :math:`\sqrt{\hat v}` and to norms.
    weight_decay: decoupled weight decay :math:`\lambda` (applied here because the projection
      rescales it).
    delta: the cosine threshold :math:`\delta`.
    wd_ratio: weight-decay factor on projected weights.
    nesterov: Nesterov-style first moment.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`.

  References:
    Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights, https://arxiv.org/abs/2006.08217
  """
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got b1={b1}, b2={b2}.")
  if delta <= 0 or wd_ratio < 0:
    raise ValueError(f"delta must be > 0 and wd_ratio >= 0; got {delta}, {wd_ratio}.")

  def init_fn(params):
    return ScaleByAdamPState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(jnp.zeros_like, params),
      nu=jax.tree.map(jnp.zeros_like, params),
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("AdamP needs `params` in `update`.")
    count = state.count + 1
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, updates)
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** count.astype(jnp.float32)

    def direction(m, v, g, p, layout):
      m32, g32 = m.astype(jnp.float32), g.astype(jnp.float32)
      denom = jnp.sqrt(v.astype(jnp.float32) / c2) + eps
      perturb = ((b1 * m32 + (1 - b1) * g32) if nesterov else m32) / denom
      perturb, projected = _project(p, g, perturb, layout, delta, eps)
      decay = weight_decay * jnp.where(projected, wd_ratio, 1.0)
      return (perturb / c1 + decay * p.astype(jnp.float32)).astype(g.dtype)

    updates = jax.tree.map(direction, mu, nu, updates, params, axes.layouts(updates))
    return updates, ScaleByAdamPState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def adamp(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  delta: float = 0.1,
  wd_ratio: float = 0.1,
  nesterov: bool = False,
) -> optax.GradientTransformation:
  r"""AdamP: :math:`\theta \leftarrow \theta - \eta\,d_t` with `scale_by_adamp`'s direction.

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, eps, weight_decay, delta, wd_ratio, nesterov: see `scale_by_adamp`.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`.

  Example:
    >>> opt = adamp(learning_rate=1e-3)

  References:
    Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights, https://arxiv.org/abs/2006.08217
  """
  return optax.chain(
    scale_by_adamp(
      b1=b1,
      b2=b2,
      eps=eps,
      weight_decay=weight_decay,
      delta=delta,
      wd_ratio=wd_ratio,
      nesterov=nesterov,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )


def scale_by_sgdp(
  momentum: float = 0.9,
  dampening: float = 0.0,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  delta: float = 0.1,
  wd_ratio: float = 0.1,
  nesterov: bool = False,
) -> optax.GradientTransformation:
  r"""The SGDP direction, weight decay included.

  .. math::
    b_t = \mu\,b_{t-1} + (1-\tau)\,g_t,\quad p_t = b_t\ (\text{Nesterov: } g_t + \mu b_t),

  projected as in `scale_by_adamp`; then :math:`d_t = p_t + \frac{\lambda r}{1-\mu} w`.

  Args:
    momentum: :math:`\mu`.
    dampening: :math:`\tau`.
    eps, delta, wd_ratio: see `scale_by_adamp`.
    weight_decay: decoupled weight decay :math:`\lambda`.
    nesterov: Nesterov momentum.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`.

  References:
    Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights, https://arxiv.org/abs/2006.08217
  """
  if not 0.0 <= momentum < 1.0:
    raise ValueError(f"momentum must lie in [0, 1); got {momentum}.")
  if delta <= 0 or wd_ratio < 0:
    raise ValueError(f"delta must be > 0 and wd_ratio >= 0; got {delta}, {wd_ratio}.")

  def init_fn(params):
    return ScaleBySgdPState(count=jnp.zeros([], jnp.int32), mu=jax.tree.map(jnp.zeros_like, params))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("SGDP needs `params` in `update`.")
    mu = jax.tree.map(lambda b, g: momentum * b + (1 - dampening) * g, state.mu, updates)

    def direction(b, g, p, layout):
      b32, g32 = b.astype(jnp.float32), g.astype(jnp.float32)
      d = g32 + momentum * b32 if nesterov else b32
      d, projected = _project(p, g, d, layout, delta, eps)
      decay = weight_decay * jnp.where(projected, wd_ratio, 1.0) / (1 - momentum)
      return (d + decay * p.astype(jnp.float32)).astype(g.dtype)

    updates = jax.tree.map(direction, mu, updates, params, axes.layouts(updates))
    return updates, ScaleBySgdPState(count=state.count + 1, mu=mu)

  return optax.GradientTransformation(init_fn, update_fn)


def sgdp(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  dampening: float = 0.0,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  delta: float = 0.1,
  wd_ratio: float = 0.1,
  nesterov: bool = False,
) -> optax.GradientTransformation:
  r"""SGDP: :math:`\theta \leftarrow \theta - \eta\,d_t` with `scale_by_sgdp`'s direction.

  Args:
    learning_rate: a scalar or a schedule.
    momentum, dampening, eps, weight_decay, delta, wd_ratio, nesterov: see `scale_by_sgdp`.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params`.

  Example:
    >>> opt = sgdp(learning_rate=0.1)

  References:
    Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights, https://arxiv.org/abs/2006.08217
  """
  return optax.chain(
    scale_by_sgdp(
      momentum=momentum,
      dampening=dampening,
      eps=eps,
      weight_decay=weight_decay,
      delta=delta,
      wd_ratio=wd_ratio,
      nesterov=nesterov,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )

"""MARS: scaled stochastic recursive momentum fed to AdamW or to a sign (Lion) update."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByMarsState(NamedTuple):
  """State of `scale_by_mars`.

  `prev` holds the previous gradient (MARS-approx) or the previous parameters (exact MARS).
  """

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  prev: optax.Updates


_BASES = ("adamw", "lion")


def scale_by_mars(
  base: Literal["adamw", "lion"] = "adamw",
  b1: float = 0.95,
  b2: float = 0.99,
  eps: float = 1e-8,
  gamma: float = 0.025,
  exact: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""The MARS direction.

  .. math::
    c_t = g_t + \gamma\,\frac{\beta_1}{1-\beta_1}\big(g_t - \tilde g_{t-1}\big),\quad
    c_t \leftarrow c_t / \max(1, \|c_t\|_2)\ \text{(per tensor)},\quad
    m_t = \beta_1 m_{t-1} + (1-\beta_1) c_t,

  where :math:`\tilde g_{t-1}` is the gradient of the *current* batch at the previous
  parameters (exact MARS, computed with `value_fn`; at the first step the previous
  parameters are the current ones) or the previous step's gradient (MARS-approx, zero at the
  first step). Then

  - `base="adamw"`: :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) c_t^2`,
    :math:`d_t = \hat m_t/(\sqrt{\hat v_t} + \epsilon)`;
  - `base="lion"`: :math:`d_t = \mathrm{sign}(m_t)` (`b2` and `eps` unused).

  Every tensor gets the MARS step (the reference code can send 1-D tensors to plain AdamW).

  Args:
    base: `"adamw"` or `"lion"`.
    b1, b2: moment decays.
    eps: added to :math:`\sqrt{\hat v}`.
    gamma: :math:`\gamma`, scale of the variance-reduction term.
    exact: exact MARS (one more gradient per step, needs `value_fn=`) or MARS-approx.

  Returns:
    An `optax.GradientTransformationExtraArgs`; with `exact=True`, `update` needs `params`
    and `value_fn=` (params -> loss on the current batch).

  References:
    Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large Models,
    https://arxiv.org/abs/2411.10438
  """
  if base not in _BASES:
    raise ValueError(f"base must be one of {_BASES}; got {base!r}.")
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got b1={b1}, b2={b2}.")
  if gamma < 0:
    raise ValueError(f"gamma must be >= 0; got {gamma}.")
  vr_scale = gamma * b1 / (1 - b1)

  def init_fn(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)
    nu = zeros() if base == "adamw" else None
    prev = jax.tree.map(jnp.array, params) if exact else zeros()
    return ScaleByMarsState(count=jnp.zeros([], jnp.int32), mu=zeros(), nu=nu, prev=prev)

  def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
    del extra_args
    if exact:
      if params is None or value_fn is None:
        raise ValueError("Exact MARS needs `params` and `value_fn=` in `update`.")
      prev_grad = jax.grad(value_fn)(state.prev)
      prev = params
    else:
      prev_grad = state.prev
      prev = updates

    def correction(g, gp):
      g32 = g.astype(jnp.float32)
      c = g32 + vr_scale * (g32 - gp.astype(jnp.float32))
      return c / jnp.maximum(1.0, jnp.linalg.norm(c.ravel()))

    c = jax.tree.map(correction, updates, prev_grad)
    count = state.count + 1
    mu = jax.tree.map(lambda m, ci: (b1 * m + (1 - b1) * ci).astype(m.dtype), state.mu, c)
    if base == "adamw":
      nu = jax.tree.map(lambda v, ci: (b2 * v + (1 - b2) * ci * ci).astype(v.dtype), state.nu, c)
      c1 = 1 - b1 ** count.astype(jnp.float32)
      c2 = 1 - b2 ** count.astype(jnp.float32)
      direction = lambda m, v, g: (
        (m.astype(jnp.float32) / c1) / (jnp.sqrt(v.astype(jnp.float32) / c2) + eps)
      ).astype(g.dtype)
      out = jax.tree.map(direction, mu, nu, updates)
    else:
      nu = None
      out = jax.tree.map(lambda m, g: jnp.sign(m).astype(g.dtype), mu, updates)
    prev = jax.tree.map(lambda x, s: x.astype(s.dtype), prev, state.prev)
    return out, ScaleByMarsState(count=count, mu=mu, nu=nu, prev=prev)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def mars_adamw(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.95,
  b2: float = 0.99,
  eps: float = 1e-8,
  gamma: float = 0.025,
  weight_decay: float = 0.0,
  exact: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""MARS-AdamW: :math:`\theta \leftarrow \theta - \eta(d_t + \lambda\theta)`.

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, eps, gamma, exact: see `scale_by_mars`.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformationExtraArgs` (`value_fn=` needed when `exact`).

  Example:
    >>> opt = mars_adamw(learning_rate=3e-3)

  References:
    Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large Models,
    https://arxiv.org/abs/2411.10438
  """
  return optax.chain(
    scale_by_mars("adamw", b1=b1, b2=b2, eps=eps, gamma=gamma, exact=exact),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )


def mars_lion(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  gamma: float = 0.025,
  weight_decay: float = 0.0,
  exact: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""MARS-Lion: :math:`\theta \leftarrow \theta - \eta(\mathrm{sign}(m_t) + \lambda\theta)`.

  Args:
    learning_rate: a scalar or a schedule.
    b1, gamma, exact: see `scale_by_mars`.
    weight_decay: decoupled weight decay :math:`\lambda`.

  Returns:
    An `optax.GradientTransformationExtraArgs` (`value_fn=` needed when `exact`).

  Example:
    >>> opt = mars_lion(learning_rate=1e-4)

  References:
    Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large Models,
    https://arxiv.org/abs/2411.10438
  """
  return optax.chain(
    scale_by_mars("lion", b1=b1, gamma=gamma, exact=exact),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

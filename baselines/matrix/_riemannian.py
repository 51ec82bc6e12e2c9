"""Riemannian Adam / AMSGrad / AdaGrad on products of manifolds (each matrix row is a point)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import fallback_adamw, matrix_optimizer, require_matrix

_MANIFOLDS = ("euclidean", "sphere", "poincare")
_VARIANTS = ("adam", "amsgrad", "adagrad")
_BALL_EPS = 1e-5


class ScaleByRiemannianState(NamedTuple):
  """State of `riemannian_adaptive` (float32): momentum (rows are tangent vectors at the
  current points) and one second-moment scalar per row (`vhat` for AMSGrad)."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  vhat: optax.Updates


def _dot(a, b):
  return jnp.sum(a * b, axis=-1, keepdims=True)


def _mobius_add(x, y):
  xy, x2, y2 = _dot(x, y), _dot(x, x), _dot(y, y)
  return ((1 + 2 * xy + y2) * x + (1 - x2) * y) / (1 + 2 * xy + x2 * y2)


def _gyration(u, v, w):
  """gyr[u, v] w on the Poincaré ball (closed form; linear in w)."""
  uw, vw, uv, u2, v2 = _dot(u, w), _dot(v, w), _dot(u, v), _dot(u, u), _dot(v, v)
  a = -uw * v2 + vw + 2 * uv * vw
  b = -vw * u2 - uw
  return w + 2 * (a * u + b * v) / (1 + 2 * uv + u2 * v2)


class _Manifold(NamedTuple):
  rgrad: object  # (x, egrad) -> Riemannian gradient
  sqnorm: object  # (x, v) -> squared Riemannian norm per row
  expmap: object  # (x, u) -> point
  transport: object  # (x, y, v) -> v moved from T_x to T_y


def _euclidean():
  return _Manifold(
    rgrad=lambda x, g: g,
    sqnorm=lambda x, v: _dot(v, v),
    expmap=lambda x, u: x + u,
    transport=lambda x, y, v: v,
  )


def _sphere():
  def expmap(x, u):
    n = jnp.sqrt(_dot(u, u))
    safe = jnp.where(n > 0, n, 1.0)
    y = jnp.cos(n) * x + jnp.sin(n) * u / safe
    return y / jnp.sqrt(_dot(y, y))

  def transport(x, y, v):
    # Parallel transport along the geodesic from x to y (the one the step followed).
    log = y - _dot(x, y) * x
    n = jnp.sqrt(_dot(log, log))
    e = log / jnp.where(n > 0, n, 1.0)
    theta = jnp.arccos(jnp.clip(_dot(x, y), -1.0, 1.0))
    return v + _dot(e, v) * ((jnp.cos(theta) - 1) * e - jnp.sin(theta) * x)

  return _Manifold(
    rgrad=lambda x, g: g - _dot(x, g) * x,
    sqnorm=lambda x, v: _dot(v, v),
    expmap=expmap,
    transport=transport,
  )


def _poincare():
  lam = lambda x: 2 / (1 - _dot(x, x))

  def expmap(x, u):
    n = jnp.sqrt(_dot(u, u))
    safe = jnp.where(n > 0, n, 1.0)
    y = _mobius_add(x, jnp.tanh(lam(x) * n / 2) * u / safe)
    yn = jnp.sqrt(_dot(y, y))
    return jnp.where(yn > 1 - _BALL_EPS, y / yn * (1 - _BALL_EPS), y)

  return _Manifold(
    rgrad=lambda x, g: g / lam(x) ** 2,
    sqnorm=lambda x, v: lam(x) ** 2 * _dot(v, v),
    expmap=expmap,
    transport=lambda x, y, v: _gyration(y, -x, v) * lam(x) / lam(y),
  )


def riemannian_adaptive(
  learning_rate: optax.ScalarOrSchedule,
  variant: Literal["adam", "amsgrad", "adagrad"] = "adam",
  manifold: Literal["euclidean", "sphere", "poincare"] = "euclidean",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""Riemannian adaptive steps on 2-D matrices whose rows are points of `manifold`.

  The matrix is a product of manifolds, one factor per row :math:`x_i`; adaptivity is per
  factor (one second-moment scalar per row). With :math:`g_i` the Riemannian gradient,

  .. math::
    m_i = \beta_1 \tau_i + (1-\beta_1) g_i,\quad
    v_i = \beta_2 v_i + (1-\beta_2) \|g_i\|_{x_i}^2\ (\text{AdaGrad: } v_i + \|g_i\|^2_{x_i},
      m_i = g_i),\quad \hat v_i = \max(\hat v_i, v_i)\ (\text{AMSGrad}),\\
    x_i \leftarrow \exp_{x_i}\!\Big(-\eta\,\frac{m_i / (1-\beta_1^t)}
      {\sqrt{\hat v_i / (1-\beta_2^t)} + \epsilon}\Big),\qquad
    \tau_i = P_{x_i^{old} \to x_i}(m_i),

  with exponential map :math:`\exp` and parallel transport :math:`P` of the manifold:
  `"euclidean"` (:math:`x + u`, identity; Adam with one scale per row), `"sphere"` (unit
  sphere, geodesics) or `"poincare"` (Poincaré ball of curvature -1: Möbius addition,
  gyration; points kept within :math:`1 - 10^{-5}` of the boundary). Bias corrections as in
  Adam (AdaGrad has none). The update returned is :math:`x_{new} - x` (the learning rate is
  inside the exponential map, so there is no separate `scale_by_learning_rate`).

  Args:
    learning_rate: a scalar or a schedule.
    variant: `"adam"`, `"amsgrad"` or `"adagrad"`.
    manifold: `"euclidean"`, `"sphere"` or `"poincare"`.
    b1, b2: moment decays (unused by AdaGrad).
    eps: added to the root of the second moment.

  Returns:
    An `optax.GradientTransformationExtraArgs` for trees of 2-D leaves; `update` needs
    `params`.

  References:
    Bécigneul & Ganea, Riemannian Adaptive Optimization Methods,
    https://arxiv.org/abs/1810.00760
  """
  if variant not in _VARIANTS:
    raise ValueError(f"variant must be one of {_VARIANTS}; got {variant!r}.")
  if manifold not in _MANIFOLDS:
    raise ValueError(f"manifold must be one of {_MANIFOLDS}; got {manifold!r}.")
  man = {"euclidean": _euclidean, "sphere": _sphere, "poincare": _poincare}[manifold]()

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "riemannian_adaptive")
    mu = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    nu = jax.tree.map(lambda p: jnp.zeros((p.shape[0], 1), jnp.float32), params)
    return ScaleByRiemannianState(jnp.zeros([], jnp.int32), mu, nu, nu)

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    if params is None:
      raise ValueError("riemannian_adaptive needs `params` in `update`.")
    count = optax.safe_increment(state.count)
    t = count.astype(jnp.float32)
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate

    def leaf(g, x, m, v, vh):
      x = x.astype(jnp.float32)
      rg = man.rgrad(x, g.astype(jnp.float32))
      sq = man.sqnorm(x, rg)
      if variant == "adagrad":
        m, v = rg, v + sq
        vh, step = v, m / (jnp.sqrt(v) + eps)
      else:
        m = b1 * m + (1 - b1) * rg
        v = b2 * v + (1 - b2) * sq
        vh = jnp.maximum(vh, v) if variant == "amsgrad" else v
        step = (m / (1 - b1**t)) / (jnp.sqrt(vh / (1 - b2**t)) + eps)
      y = man.expmap(x, -lr * step)
      return y - x, man.transport(x, y, m), v, vh

    treedef = jax.tree.structure(updates)
    cols = [treedef.flatten_up_to(z) for z in (updates, params, state.mu, state.nu, state.vhat)]
    outs = [leaf(*xs) for xs in zip(*cols, strict=True)]
    d, mu, nu, vh = ([treedef.unflatten(list(c)) for c in zip(*outs, strict=True)]) or (
      [updates] * 4
    )
    d = jax.tree.map(lambda u, g: u.astype(g.dtype), d, updates)
    return d, ScaleByRiemannianState(count, mu, nu, vh)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _alias(variant, learning_rate, manifold, b1, b2, eps, fallback_learning_rate, label_fn):
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    riemannian_adaptive(learning_rate, variant, manifold, b1=b1, b2=b2, eps=eps),
    fallback_adamw(fallback_lr),
    label_fn,
  )


def riemannian_adam(
  learning_rate: optax.ScalarOrSchedule,
  manifold: Literal["euclidean", "sphere", "poincare"] = "euclidean",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  """Riemannian Adam (`riemannian_adaptive(variant="adam")`) on matrix rows, AdamW on vectors.

  Args:
    learning_rate, manifold, b1, b2, eps: see `riemannian_adaptive`.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs` (`update` needs `params`).

  Example:
    >>> opt = riemannian_adam(learning_rate=1e-2, manifold="poincare")

  References:
    Bécigneul & Ganea, Riemannian Adaptive Optimization Methods,
    https://arxiv.org/abs/1810.00760
  """
  return _alias("adam", learning_rate, manifold, b1, b2, eps, fallback_learning_rate, label_fn)


def riemannian_amsgrad(
  learning_rate: optax.ScalarOrSchedule,
  manifold: Literal["euclidean", "sphere", "poincare"] = "euclidean",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  """Riemannian AMSGrad on matrix rows, AdamW on vectors; see `riemannian_adam`."""
  return _alias("amsgrad", learning_rate, manifold, b1, b2, eps, fallback_learning_rate, label_fn)


def riemannian_adagrad(
  learning_rate: optax.ScalarOrSchedule,
  manifold: Literal["euclidean", "sphere", "poincare"] = "euclidean",
  eps: float = 1e-8,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  """Riemannian AdaGrad on matrix rows, AdamW on vectors; see `riemannian_adam`."""
  return _alias(
    "adagrad", learning_rate, manifold, 0.9, 0.999, eps, fallback_learning_rate, label_fn
  )

"""Sparse zeroth-order descent (ZO-Bench, Sparse-MeZO): perturb only a subset of coordinates."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import cast_like, check_distribution, require_zo_args

MaskType = Literal["random", "magnitude"]
MASK_TYPES: tuple[str, ...] = ("random", "magnitude")


def _magnitude_mask(params, density):
  """1 where |theta| is at or below the `density` quantile of its leaf (the small weights)."""

  def leaf(p):
    a = jnp.abs(p.astype(jnp.float32))
    return (a <= jnp.quantile(a, density)).astype(p.dtype)

  return jax.tree.map(leaf, params)


def scale_by_sparse_zo(
  *,
  density: float = 0.2,
  mask: MaskType = "random",
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""SPSA estimate with a sparse perturbation; the incoming `updates` are ignored.

  With `k_mask, k_z = jax.random.split(key)`, a 0/1 mask $m$ and $z \sim \mathcal N(0, I)$
  (both regenerated from the key, never stored),

  .. math::
    \hat g = \frac{L(\theta + \epsilon\, m \odot z) - L(\theta - \epsilon\, m \odot z)}
      {2\epsilon}\, m \odot z .

  `mask="random"`: $m_i \sim$ Bernoulli(`density`), fresh each step (ZO-Bench's random
  gradient pruning; then $E[\hat g] = \text{density} \cdot \nabla L_\epsilon$, the factor
  being absorbed by the learning rate). `mask="magnitude"`: $m_i = 1$ for the coordinates of
  smallest $|\theta_i|$ (at or below the `density` quantile of their leaf), as in
  Sparse-MeZO.

  Args:
    density: fraction of coordinates perturbed, in (0, 1].
    mask: `random` or `magnitude`.
    eps: $\epsilon$, the perturbation scale.
    distribution: `gaussian` or `rademacher`.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Zhang et al., Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning:
    A Benchmark, https://arxiv.org/abs/2402.11592 (ZO with gradient sparsity);
    Liu et al., Sparse MeZO, https://arxiv.org/abs/2402.15751
  """
  if not 0.0 < density <= 1.0:
    raise ValueError(f"density must be in (0, 1], got {density}.")
  if mask not in MASK_TYPES:
    raise ValueError(f"Unknown mask {mask!r}; expected one of {MASK_TYPES}.")
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  check_distribution(distribution)

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_sparse_zo", value_fn, key)
    k_mask, k_z = jax.random.split(key)
    if mask == "random":
      m = perturbation.random_mask(k_mask, params, density)
    else:
      m = _magnitude_mask(params, density)
    g = perturbation.two_point_estimate(value_fn, params, k_z, eps, distribution, mask=m)
    return cast_like(g, params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def zo_sgd_sparse(
  learning_rate: optax.ScalarOrSchedule,
  *,
  density: float = 0.2,
  mask: MaskType = "random",
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  """Sparse ZO-SGD: see `scale_by_sparse_zo`.

  Example:
    >>> opt = zo_sgd_sparse(learning_rate=1e-6, density=0.2)
  """
  return optax.chain(
    scale_by_sparse_zo(density=density, mask=mask, eps=eps, distribution=distribution),
    optax.scale_by_learning_rate(learning_rate),
  )

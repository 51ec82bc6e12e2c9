"""Block-wise zeroth-order descent (ZO-Bench): one SPSA estimate per parameter block."""

from __future__ import annotations

import jax
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import cast_like, check_distribution, require_zo_args


def scale_by_blockwise_zo(
  *,
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""Block-wise SPSA estimate; the incoming `updates` are ignored (no gradient needed).

  Each leaf $b$ of the parameter pytree is a block. Block $b$ gets its own perturbation
  $z_b \sim \mathcal N(0, I)$, regenerated from `jax.random.fold_in(key, b)` (leaves in
  `jax.tree` order), and its own two forward passes with only that block perturbed:

  .. math::
    \hat g_b = \frac{L(\theta_b + \epsilon z_b, \theta_{-b}) - L(\theta_b - \epsilon z_b,
      \theta_{-b})}{2\epsilon}\, z_b .

  The estimate of each block is unbiased for its smoothed partial gradient, with the
  variance of a $d_b$- rather than $d$-dimensional SPSA estimate, at the cost of
  $2 \times$ (number of blocks) forward passes per step.

  Args:
    eps: $\epsilon$, the perturbation scale.
    distribution: `gaussian` or `rademacher`.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Zhang et al., Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning:
    A Benchmark, https://arxiv.org/abs/2402.11592 (block-wise ZO)
  """
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  check_distribution(distribution)

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_blockwise_zo", value_fn, key)
    leaves, treedef = jax.tree.flatten(params)
    out = []
    for b, leaf in enumerate(leaves):

      def f_block(x, b=b):
        return value_fn(treedef.unflatten([x if i == b else y for i, y in enumerate(leaves)]))

      out.append(
        perturbation.two_point_estimate(
          f_block, leaf, jax.random.fold_in(key, b), eps, distribution
        )
      )
    return cast_like(treedef.unflatten(out), params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def zo_sgd_blockwise(
  learning_rate: optax.ScalarOrSchedule,
  *,
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  """ZO-SGD with block-wise estimates: see `scale_by_blockwise_zo`.

  Example:
    >>> opt = zo_sgd_blockwise(learning_rate=1e-6)
  """
  return optax.chain(
    scale_by_blockwise_zo(eps=eps, distribution=distribution),
    optax.scale_by_learning_rate(learning_rate),
  )

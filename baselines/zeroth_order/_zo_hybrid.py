"""Hybrid ZO/FO training (ZO-Bench): first-order gradients for some blocks, SPSA for the rest."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import check_distribution, require_zo_args


def _first_order_flags(params: Any, first_order: Any, fraction: float) -> list[bool]:
  leaves = jax.tree.leaves(params)
  if first_order is None:
    k = math.ceil(fraction * len(leaves))
    return [i >= len(leaves) - k for i in range(len(leaves))]
  mask = first_order(params) if callable(first_order) else first_order
  flags = [bool(m) for m in jax.tree.leaves(mask)]
  if len(flags) != len(leaves):
    raise ValueError("first_order must give one bool per parameter leaf.")
  return flags


def scale_by_hybrid_zo(
  *,
  first_order: Any | Callable[[Any], Any] | None = None,
  first_order_fraction: float = 0.5,
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""First-order gradient on the first-order blocks, SPSA estimate on the others.

  The leaves are split into first-order blocks $F$ and zeroth-order blocks $Z$. The
  direction is the incoming gradient on $F$ and, on $Z$, the SPSA estimate with only the
  $Z$ leaves perturbed ($z \sim \mathcal N(0, I)$ regenerated from `key`):

  .. math::
    u_F = \nabla_F L(\theta), \qquad
    u_Z = \frac{L(\theta_Z + \epsilon z, \theta_F) - L(\theta_Z - \epsilon z, \theta_F)}
      {2\epsilon}\, z .

  Backpropagation is then needed only down to the first-order blocks (usually the last
  layers); the entries of `updates` on $Z$ are ignored, so they may be zeros.

  Args:
    first_order: which leaves are first-order: a pytree of bools like the params, or a
      function params -> such a pytree (as `optax.masked`). None: the last
      `ceil(first_order_fraction * n)` leaves in `jax.tree` order.
    first_order_fraction: used when `first_order` is None, in [0, 1].
    eps: $\epsilon$, the perturbation scale.
    distribution: `gaussian` or `rademacher`.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing the gradient (on $F$), `params`,
    `value_fn` and `key`.

  References:
    Zhang et al., Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning:
    A Benchmark, https://arxiv.org/abs/2402.11592 (hybrid ZO-FO training)
  """
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  if not 0.0 <= first_order_fraction <= 1.0:
    raise ValueError(f"first_order_fraction must be in [0, 1], got {first_order_fraction}.")
  check_distribution(distribution)

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    require_zo_args("scale_by_hybrid_zo", value_fn, key)
    flags = _first_order_flags(params, first_order, first_order_fraction)
    leaves, treedef = jax.tree.flatten(params)
    grads = treedef.flatten_up_to(updates)
    zo_idx = [i for i, fo in enumerate(flags) if not fo]

    def f_zo(zo_leaves):
      full = list(leaves)
      for i, x in zip(zo_idx, zo_leaves, strict=True):
        full[i] = x
      return value_fn(treedef.unflatten(full))

    out = [g.astype(p.dtype) for g, p in zip(grads, leaves, strict=True)]
    if zo_idx:
      est = perturbation.two_point_estimate(
        f_zo, [leaves[i] for i in zo_idx], key, eps, distribution
      )
      for i, e in zip(zo_idx, est, strict=True):
        out[i] = e.astype(leaves[i].dtype)
    return treedef.unflatten(out), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def zo_sgd_hybrid(
  learning_rate: optax.ScalarOrSchedule,
  *,
  first_order: Any | Callable[[Any], Any] | None = None,
  first_order_fraction: float = 0.5,
  eps: float = 1e-3,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  """Hybrid ZO/FO SGD: see `scale_by_hybrid_zo`.

  Example:
    >>> opt = zo_sgd_hybrid(learning_rate=1e-3, first_order=lambda p: {"head": True, "body": False})
  """
  return optax.chain(
    scale_by_hybrid_zo(
      first_order=first_order,
      first_order_fraction=first_order_fraction,
      eps=eps,
      distribution=distribution,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )

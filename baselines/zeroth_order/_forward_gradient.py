"""Forward gradients: one forward-mode JVP per step instead of backpropagation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import cast_like, check_distribution, require_zo_args


def scale_by_forward_gradient(
  *,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""The forward gradient $(\nabla L \cdot v)\, v$; the incoming `updates` are ignored.

  With $v_i \sim \mathcal N(0, I)$ regenerated from the key (`perturbation.sample` with
  std 1; key `key` for one query, `jax.random.fold_in(key, i)` for several), the directional
  derivative $\nabla L(\theta) \cdot v_i$ comes from one `jax.jvp` of `value_fn`
  (forward mode: no activations stored for a backward pass), and

  .. math::
    \hat g = \frac{1}{q} \sum_{i=1}^{q} (\nabla L(\theta) \cdot v_i)\, v_i ,

  which is unbiased for $\nabla L(\theta)$ since $E[v v^\top] = I$.

  Args:
    num_queries: $q$, the number of directions (one JVP each).
    distribution: `gaussian` or `rademacher` (both have identity covariance).

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Baydin et al., Gradients without Backpropagation, https://arxiv.org/abs/2202.08587;
    Zhang et al., ZO-Bench, https://arxiv.org/abs/2402.11592
  """
  if num_queries < 1:
    raise ValueError(f"num_queries must be an integer >= 1, got {num_queries}.")
  check_distribution(distribution)

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_forward_gradient", value_fn, key)

    def one(k):
      v = perturbation.sample(k, params, 1.0, distribution)
      _, dd = jax.jvp(value_fn, (params,), (v,))
      return jax.tree.map(lambda x: dd.astype(jnp.float32) * x.astype(jnp.float32), v)

    if num_queries == 1:
      g = one(key)
    else:
      zeros = jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.float32), params)
      total = jax.lax.fori_loop(
        0,
        num_queries,
        lambda i, acc: jax.tree.map(jnp.add, acc, one(jax.random.fold_in(key, i))),
        zeros,
      )
      g = perturbation.scale(total, 1.0 / num_queries)
    return cast_like(g, params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def forward_gradient_sgd(
  learning_rate: optax.ScalarOrSchedule,
  *,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  """SGD on forward gradients: see `scale_by_forward_gradient`.

  Example:
    >>> opt = forward_gradient_sgd(learning_rate=1e-3)
  """
  return optax.chain(
    scale_by_forward_gradient(num_queries=num_queries, distribution=distribution),
    optax.scale_by_learning_rate(learning_rate),
  )

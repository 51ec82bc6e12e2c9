"""MeZO (in-place ZO-SGD with SPSA estimates) and the ZO-Bench optimizers built on it."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation


def require_zo_args(method: str, value_fn: Any, key: Any) -> None:
  """Fails clearly when a zeroth-order method is called without `value_fn` and `key`."""
  if value_fn is None or key is None:
    raise ValueError(f"{method} needs the extra args `value_fn` and `key` in update.")


def check_distribution(distribution: str) -> None:
  if distribution not in perturbation.DISTRIBUTIONS:
    raise ValueError(
      f"Unknown distribution {distribution!r}; expected one of {perturbation.DISTRIBUTIONS}."
    )


def cast_like(tree: Any, like: Any) -> Any:
  """`tree` with the dtypes of `like`, leaf by leaf."""
  return jax.tree.map(lambda u, p: u.astype(p.dtype), tree, like)


def scale_by_mezo(
  *,
  eps: float = 1e-3,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""The SPSA (two-point) gradient estimate of MeZO; the incoming `updates` are ignored.

  With a fresh key per step and $z \sim \mathcal N(0, I)$ regenerated from it (never stored),

  .. math::
    \hat g = \frac{1}{q} \sum_{i=1}^{q}
      \frac{L(\theta + \epsilon z_i) - L(\theta - \epsilon z_i)}{2 \epsilon}\, z_i ,

  which is unbiased for the gradient of the Gaussian-smoothed loss
  $E_z[L(\theta + \epsilon z)]$. The perturbations come from
  `baselines.perturbation.two_point_estimate` (the module the evolution-strategies
  meta-gradient estimators use): $\epsilon z_1$ = `perturbation.sample(key, params, eps)`
  for $q = 1$. No gradient is needed: the `updates` argument is ignored (pass anything with
  the parameters' structure, e.g. zeros).

  Args:
    eps: $\epsilon$, the perturbation scale.
    num_queries: $q$, perturbations averaged per step (2q forward passes).
    distribution: `gaussian` (MeZO) or `rademacher` (classical SPSA).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra args
    `value_fn` (params -> loss on the current batch) and `key` (a PRNG key, new each step).

  References:
    Malladi et al., Fine-Tuning Language Models with Just Forward Passes (MeZO),
    https://arxiv.org/abs/2305.17333
  """
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  if num_queries < 1:
    raise ValueError(f"num_queries must be an integer >= 1, got {num_queries}.")
  check_distribution(distribution)

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_mezo", value_fn, key)
    g = perturbation.two_point_estimate(
      value_fn, params, key, eps, distribution, num_queries=num_queries
    )
    return cast_like(g, params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _matrices(params: Any) -> Any:
  return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def mezo(
  learning_rate: optax.ScalarOrSchedule,
  *,
  eps: float = 1e-3,
  weight_decay: float = 0.0,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""MeZO / ZO-SGD: $\theta \leftarrow \theta - \eta (\hat g + \lambda \theta)$ with the SPSA
  estimate $\hat g$ of `scale_by_mezo` (decoupled weight decay $\lambda$, as in MeZO's code,
  which decays neither biases nor normalization parameters: here no tensor with ndim < 2).

  Example:
    >>> opt = mezo(learning_rate=1e-6, eps=1e-3)
    >>> # updates, state = opt.update(zeros, state, params, value_fn=loss_fn, key=key)
  """
  return optax.chain(
    scale_by_mezo(eps=eps, num_queries=num_queries, distribution=distribution),
    optax.add_decayed_weights(weight_decay, mask=_matrices),
    optax.scale_by_learning_rate(learning_rate),
  )


def zo_sgd_momentum(
  learning_rate: optax.ScalarOrSchedule,
  *,
  momentum: float = 0.9,
  eps: float = 1e-3,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""ZO-SGD-MMT (ZO-Bench): heavy-ball momentum on the SPSA estimate,
  $m_t = \beta m_{t-1} + \hat g_t$, $\theta \leftarrow \theta - \eta m_t$.

  References:
    Zhang et al., Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning:
    A Benchmark, https://arxiv.org/abs/2402.11592
  """
  if not 0.0 <= momentum < 1.0:
    raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
  return optax.chain(
    scale_by_mezo(eps=eps, num_queries=num_queries, distribution=distribution),
    optax.trace(decay=momentum),
    optax.scale_by_learning_rate(learning_rate),
  )


def zo_sgd_sign(
  learning_rate: optax.ScalarOrSchedule,
  *,
  eps: float = 1e-3,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""ZO-SGD-Sign (ZO-Bench): $\theta \leftarrow \theta - \eta\, \mathrm{sign}(\hat g)$.

  References:
    Zhang et al., https://arxiv.org/abs/2402.11592; Liu et al., signSGD via Zeroth-Order
    Oracle, ICLR 2019.
  """
  return optax.chain(
    scale_by_mezo(eps=eps, num_queries=num_queries, distribution=distribution),
    optax.scale_by_sign(),
    optax.scale_by_learning_rate(learning_rate),
  )


def zo_adam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  adam_eps: float = 1e-8,
  eps: float = 1e-3,
  num_queries: int = 1,
  distribution: perturbation.Distribution = "gaussian",
) -> optax.GradientTransformationExtraArgs:
  r"""ZO-Adam (ZO-Bench; ZO-AdaMM of Chen et al.): `optax.scale_by_adam` on the SPSA
  estimate. `eps` is the perturbation scale, `adam_eps` Adam's denominator constant.

  References:
    Zhang et al., https://arxiv.org/abs/2402.11592; Chen et al., ZO-AdaMM,
    https://arxiv.org/abs/1910.06513
  """
  return optax.chain(
    scale_by_mezo(eps=eps, num_queries=num_queries, distribution=distribution),
    optax.scale_by_adam(b1=b1, b2=b2, eps=adam_eps),
    optax.scale_by_learning_rate(learning_rate),
  )

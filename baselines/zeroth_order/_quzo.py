"""QuZO: zeroth-order fine-tuning with low-bit perturbations and stochastic rounding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation
from baselines.zeroth_order._mezo import cast_like, require_zo_args


def stochastic_round(key: jax.Array, x: jax.Array, bits: int) -> jax.Array:
  """`x` stochastically rounded to a symmetric `bits`-bit grid scaled by max |x|.

  Grid step s = max|x| / (2^(bits-1) - 1); x/s is rounded up with probability equal to its
  fractional part, so E[result] = x. Returned in float32 (the dequantized values).
  """
  x = x.astype(jnp.float32)
  levels = 2.0 ** (bits - 1) - 1.0
  s = jnp.maximum(jnp.max(jnp.abs(x)), 1e-30) / levels
  y = x / s
  lo = jnp.floor(y)
  q = lo + (jax.random.uniform(key, x.shape) < (y - lo)).astype(jnp.float32)
  return jnp.clip(q, -levels, levels) * s


def _quantize_tree(key, tree, bits):
  leaves, treedef = jax.tree.flatten(tree)
  keys = jax.random.split(key, len(leaves))
  return treedef.unflatten(
    [stochastic_round(k, x, bits) for k, x in zip(keys, leaves, strict=True)]
  )


def scale_by_quzo(
  *,
  bits: int = 8,
  eps: float = 1e-3,
) -> optax.GradientTransformationExtraArgs:
  r"""QuZO's quantized SPSA estimate; the incoming `updates` are ignored (no gradient needed).

  With `k_z, k_1, k_2 = jax.random.split(key, 3)`, $z \sim \mathcal N(0, I)$ from `k_z`
  (`perturbation.sample`) and two independent stochastic roundings $Q_1, Q_2$ of $z$ to a
  `bits`-bit grid (per leaf, scale $\max|z| / (2^{b-1} - 1)$, from `k_1` and `k_2`):

  .. math::
    \hat g = \frac{L(\theta + \epsilon Q_1(z)) - L(\theta - \epsilon Q_1(z))}{2\epsilon}\,
      Q_2(z) .

  The forward passes see only a low-bit perturbation, and no straight-through estimator
  is used: since $E[Q_2(z) \mid z] = z$ independently of $Q_1$, $\hat g$ keeps the
  expectation of the full-precision estimate (unbiased on a quadratic), which a single
  shared rounding would not.

  Args:
    bits: bit width of the perturbation grid (>= 2; 8 or 4 in the paper).
    eps: $\epsilon$, the perturbation scale.

  Returns:
    An `optax.GradientTransformationExtraArgs` needing `params`, `value_fn` and `key`.

  References:
    Zhou et al., QuZO: Quantized Zeroth-Order Fine-Tuning for Large Language Models,
    https://arxiv.org/abs/2502.12346
  """
  if bits < 2:
    raise ValueError(f"bits must be an integer >= 2, got {bits}.")
  if not eps > 0:
    raise ValueError(f"eps must be > 0, got {eps}.")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    require_zo_args("scale_by_quzo", value_fn, key)
    k_z, k_1, k_2 = jax.random.split(key, 3)
    z = perturbation.sample(k_z, params, 1.0)
    e1 = cast_like(perturbation.scale(_quantize_tree(k_1, z, bits), eps), params)
    coef = (
      perturbation.two_point_coefficient(
        value_fn(perturbation.shift(params, e1)),
        value_fn(perturbation.shift(params, e1, -1.0)),
        1.0,
      )
      / eps
    )
    g = perturbation.scale(_quantize_tree(k_2, z, bits), coef)
    return cast_like(g, params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def quzo(
  learning_rate: optax.ScalarOrSchedule,
  *,
  bits: int = 8,
  eps: float = 1e-3,
  weight_decay: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """QuZO: SGD on the estimate of `scale_by_quzo`, with decoupled weight decay.

  Example:
    >>> opt = quzo(learning_rate=1e-6, bits=4)
  """
  return optax.chain(
    scale_by_quzo(bits=bits, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )

"""A Celo2-style rule: a per-parameter MLP direction, orthogonalized for matrices and
normalized to unit RMS per step; it reads neither the loss nor the training horizon.

After Celo (Moudgil et al., Learning Versatile Optimizers on a Compute Diet,
arXiv:2501.12670) and its successor's design of a learned direction with Muon-like
orthogonalization (Jordan et al., https://kellerjordan.github.io/posts/muon/). Per tensor:

    d  = MLP(per-parameter features)                       (one output per parameter)
    d <- NS5(d) * sqrt(max(1, rows / cols))                for matrices, on the
                                                           `(prod(shape[:-1]), shape[-1])` view
    p <- p - step_mult * exp(log_step) * d / rms(d)

`log_step` is a learned scalar. Because the update is RMS-normalized every step, the rule's
step size is `step_mult * exp(log_step)` whatever the gradient scale, and no input needs
the loss or the horizon: `update(grads, state, params)` is enough.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.matrix import matrix_shape, newton_schulz
from learned_opt import mup, nets
from learned_opt.base import LearnedOptimizer, map_tensors, rule_options
from learned_opt.features import FeatureBank

DEFAULT_FEATURES = (
  "grad",
  "momentum_0.9",
  "momentum_0.99",
  "rms_0.999",
  "norm_momentum_0.9",
  "norm_momentum_0.99",
  "adam",
  "sign_agreement",
)


class Celo2State(NamedTuple):
  """State of `celo2`: step count and the features' statistics per tensor."""

  count: jax.Array
  stats: Any


def orthogonalize(d: jax.Array) -> jax.Array:
  """Newton–Schulz orthogonalization of a matrix-shaped `d`, scaled as Muon does; else `d`."""
  shape = matrix_shape(d.shape)
  if shape is None:
    return d
  rows, cols = shape
  return newton_schulz(d.reshape(shape)).reshape(d.shape) * jnp.sqrt(max(1.0, rows / cols))


def celo2(
  theta: dict,
  *,
  features: tuple[str, ...],
  step_mult: float,
  eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  """The Celo2-style rule with meta-parameters `theta` (from `Celo2.init`) as optax.

  The options' defaults are `Celo2`'s fields (`Celo2(...).opt(theta)` is this rule).

  Args:
    theta: `{"layers": [{"w", "b"}, ...], "log_step": scalar}`.
    features: per-parameter features that read neither `value` nor `num_steps`.
    step_mult: the step size at `log_step = 0`.
    eps: added to the RMS of the direction.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs only `grads`, `state` and
    `params`.
  """
  bank = FeatureBank(features)
  lr = step_mult * jnp.exp(theta["log_step"])

  def init_fn(params):
    return Celo2State(
      count=jnp.zeros([], jnp.int32),
      stats=jax.tree.map(bank.init_leaf, params),
    )

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args

    def leaf(g, p, stats):
      values, stats = bank.leaf(g, p, stats, state.count, {})
      d = orthogonalize(nets.per_param_mlp(theta["layers"], values, p.shape)[0])
      d = d * jax.lax.rsqrt(jnp.mean(jnp.square(d)) + eps)
      return (-lr * d).astype(p.dtype), stats

    steps, stats = map_tensors(leaf, updates, params, state.stats, bank.init_leaf)
    return steps, Celo2State(count=state.count + 1, stats=stats)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclasses.dataclass(frozen=True)
class Celo2(LearnedOptimizer):
  """The Celo2-style learned optimizer; `opt(theta)` is `celo2(theta, ...)`."""

  architecture: ClassVar[str] = "celo2"
  hidden_sizes: tuple[int, ...] = (8,)
  features: tuple[str, ...] = DEFAULT_FEATURES
  step_mult: float = 1e-3
  mup: bool = False

  def __post_init__(self):
    object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
    bank = FeatureBank(self.features)
    object.__setattr__(self, "features", bank.names)
    reading = bank.reading("value") + bank.reading("num_steps")
    if reading:
      raise ValueError(
        f"celo2 reads neither the loss nor the horizon; remove the features {reading}."
      )

  def init(self, key):
    return {
      "layers": nets.init_mlp(key, (len(self.features), *self.hidden_sizes, 1)),
      "log_step": jnp.zeros([]),
    }

  def opt(self, theta, *, num_steps=None):
    del num_steps  # the rule does not read the horizon
    return mup.with_mup(celo2(theta, **rule_options(self, celo2)), self.mup)

"""A per-parameter MLP update rule: "small_fc" and "AdafacMLP" of Metz et al., Practical
tradeoffs between memory, compute, and performance in learned optimizers, arXiv:2203.11860.

Every scalar parameter is updated by the same small MLP, whose inputs are the features the
config lists (`learned_opt.features`), each per-parameter one normalized to unit RMS over
its tensor. The MLP outputs a direction d and a magnitude s, and

    p <- p - d * exp(s * exp_mult) * step_mult.

`exp_mult` and `step_mult` keep the initial steps small and the magnitude output well
conditioned, as in the paper. The default features,

    g, p, m_0.5, m_0.9, m_0.99, sqrt(v_0.999), m_b / sqrt(v_0.999 + 1e-8) for each b,

cost 4 floats of state per parameter (three momenta and a second moment). The AdafacMLP
variant lists `adafactor_momentum_b`, `adafactor_row`, `adafactor_col` instead of the
full second moment (`ADAFAC_FEATURES`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from learned_opt import mup, nets
from learned_opt.base import LearnedOptimizer, map_tensors, rule_options
from learned_opt.features import FeatureBank
from learned_opt.features.schedule import LossStats, init_loss_stats

DEFAULT_FEATURES = (
  "grad",
  "param",
  "momentum_0.5",
  "momentum_0.9",
  "momentum_0.99",
  "rms_0.999",
  "norm_momentum_0.5",
  "norm_momentum_0.9",
  "norm_momentum_0.99",
)
ADAFAC_FEATURES = (
  "grad",
  "param",
  "momentum_0.5",
  "momentum_0.9",
  "momentum_0.99",
  "adafactor_row",
  "adafactor_col",
  "adafactor",
  "adafactor_momentum_0.5",
  "adafactor_momentum_0.9",
  "adafactor_momentum_0.99",
)


class MLPLOptState(NamedTuple):
  """State of `mlp_lopt`: step count, the features' statistics per tensor, loss statistics."""

  count: jax.Array
  stats: Any
  loss: LossStats


def mlp_lopt(
  theta: dict,
  *,
  features: tuple[str, ...],
  exp_mult: float,
  step_mult: float,
  num_steps: jax.Array | int | None = None,
) -> optax.GradientTransformationExtraArgs:
  """The per-parameter MLP rule with meta-parameters `theta` as an optax optimizer.

  The options' defaults are `MLPLOpt`'s fields (`MLPLOpt(...).opt(theta)` is this rule).

  Args:
    theta: `{"layers": [{"w", "b"}, ...]}`, as made by `MLPLOpt.init`.
    features: the input features, by name (`learned_opt.features.names()`).
    exp_mult: scale of the magnitude output inside the exponential.
    step_mult: scale of the final step.
    num_steps: the training horizon, needed only when a feature reads it.

  Returns:
    An `optax.GradientTransformationExtraArgs` whose updates are the steps to add to the
    parameters (the learning rate is part of the rule). `update` needs `params`, and
    `value` (the loss) when a feature reads it.
  """
  bank = FeatureBank(features)
  layers = theta["layers"]

  def init_fn(params):
    return MLPLOptState(
      count=jnp.zeros([], jnp.int32),
      stats=jax.tree.map(bank.init_leaf, params),
      loss=init_loss_stats(),
    )

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del extra_args
    glob, loss = bank.global_inputs(state.loss, state.count, value, num_steps, "mlp_lopt")

    def leaf(g, p, stats):
      values, stats = bank.leaf(g, p, stats, state.count, glob)
      out = nets.per_param_mlp(layers, values, p.shape)
      step = out[0] * jnp.exp(out[1] * exp_mult) * step_mult
      return (-step).astype(p.dtype), stats

    steps, stats = map_tensors(leaf, updates, params, state.stats, bank.init_leaf)
    return steps, MLPLOptState(count=state.count + 1, stats=stats, loss=loss)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclasses.dataclass(frozen=True)
class MLPLOpt(LearnedOptimizer):
  """The per-parameter MLP learned optimizer; `opt(theta)` is `mlp_lopt(theta, ...)`."""

  architecture: ClassVar[str] = "mlp"
  hidden_sizes: tuple[int, ...] = (32, 32)
  features: tuple[str, ...] = DEFAULT_FEATURES
  exp_mult: float = 1e-3
  step_mult: float = 1e-3
  mup: bool = False

  def __post_init__(self):
    # JSON and ml_collections hand back lists; keep the dataclass hashable.
    object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
    object.__setattr__(self, "features", FeatureBank(self.features).names)

  def init(self, key):
    return {"layers": nets.init_mlp(key, (len(self.features), *self.hidden_sizes, 2))}

  def opt(self, theta, *, num_steps=None):
    tx = mlp_lopt(theta, **rule_options(self, mlp_lopt), num_steps=num_steps)
    return mup.with_mup(tx, self.mup)

"""A Celo-style learned scheduler: an LSTM over global features scales any rule's update.

Moudgil et al., Learning Versatile Optimizers on a Compute Diet, arXiv:2501.12670. An LSTM
reads global features z_t (by default step embeddings and loss statistics) and its output
multiplies the whole update of an inner rule u_t:

    (h, c) <- LSTM((h, c), z_t),   u_t <- u_t * exp(w · h + b).

`scale_by_learned_schedule(theta, ...)` is the transform; it composes with any optax rule,
hand-designed or learned (`optax.chain(rule, scale_by_learned_schedule(theta))`). The
architecture `celo` meta-trains it over a named rule: a registered baseline (`"adam"`,
with `rule_config` its hyperparameters, e.g. the learning rate) or a registered learned
architecture (with `rule_config` its config), whose meta-parameters are then learned too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

import baselines
from learned_opt import base, mup, nets
from learned_opt.base import LearnedOptimizer
from learned_opt.features import FeatureBank
from learned_opt.features.schedule import LossStats, init_loss_stats

GLOBAL_FEATURES = (
  "step_tanh_10",
  "step_tanh_100",
  "step_tanh_1000",
  "step_tanh_10000",
  "loss_log_ratio_first",
  "loss_log_ratio_ema",
)


class LearnedScheduleState(NamedTuple):
  """State of `scale_by_learned_schedule`: count, the LSTM's (h, c), loss statistics."""

  count: jax.Array
  carry: tuple[jax.Array, jax.Array]
  loss: LossStats


def scale_by_learned_schedule(
  theta: dict,
  *,
  features: tuple[str, ...] = GLOBAL_FEATURES,
  num_steps: jax.Array | int | None = None,
) -> optax.GradientTransformationExtraArgs:
  """Multiplies the updates by the learned step-size multiplier exp(w · h + b).

  Args:
    theta: `{"lstm": ..., "out": {"w", "b"}}`, as made by `init_schedule`.
    features: global features (`scope="global"`) the LSTM reads.
    num_steps: the training horizon, needed only when a feature reads it.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `value` when a feature reads
    the loss (the defaults do).
  """
  bank = FeatureBank(features)
  hidden = theta["out"]["w"].shape[0]

  def init_fn(params):
    del params
    zeros = jnp.zeros((hidden,), jnp.float32)
    return LearnedScheduleState(jnp.zeros([], jnp.int32), (zeros, zeros), init_loss_stats())

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del params, extra_args
    glob, loss = bank.global_inputs(state.loss, state.count, value, num_steps, "celo")
    values, _ = bank.leaf(jnp.zeros([]), jnp.zeros([]), (), state.count, glob)
    h, c = nets.lstm_step(theta["lstm"], tuple(state.carry), jnp.stack(values))
    scale = jnp.exp(h @ theta["out"]["w"] + theta["out"]["b"])
    scaled = jax.tree.map(lambda u: (u * scale).astype(u.dtype), updates)
    return scaled, LearnedScheduleState(state.count + 1, (h, c), loss)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def init_schedule(key: jax.Array, num_features: int, hidden: int) -> dict:
  """Meta-parameters of the scheduler; the multiplier starts at 1."""
  return {
    "lstm": nets.init_lstm(key, num_features, hidden),
    "out": {"w": jnp.zeros((hidden,)), "b": jnp.zeros([])},
  }


def _frozen(value: Any) -> Any:
  if isinstance(value, list | tuple):
    return tuple(_frozen(v) for v in value)
  return value


@dataclasses.dataclass(frozen=True)
class Celo(LearnedOptimizer):
  """A learned scheduler over the rule `rule` (a baseline or a learned architecture).

  `rule_config` is a mapping (kept as sorted `(key, value)` pairs so that the dataclass
  stays hashable): the baseline's hyperparameters or the learned architecture's config.
  """

  architecture: ClassVar[str] = "celo"
  rule: str = "adam"
  rule_config: Any = (("learning_rate", 1e-3),)
  features: tuple[str, ...] = GLOBAL_FEATURES
  hidden_size: int = 16
  mup: bool = False

  def __post_init__(self):
    pairs = sorted((k, _frozen(v)) for k, v in dict(self.rule_config).items())
    object.__setattr__(self, "rule_config", tuple(pairs))
    bank = FeatureBank(self.features)
    object.__setattr__(self, "features", bank.names)
    not_global = [f.name for f in bank.features if f.scope != "global"]
    if not_global:
      raise ValueError(f"The scheduler reads global features only; {not_global} are not.")
    if self.rule == self.architecture:
      raise ValueError("celo schedules another rule, not itself.")
    self._inner()  # fails now, clearly, on an unknown rule or option

  def _inner(self) -> LearnedOptimizer | None:
    """The learned rule scheduled, or None when `rule` names a baseline."""
    if self.rule in base.names():
      return base.get(self.rule, **dict(self.rule_config))
    baselines.get(self.rule, **dict(self.rule_config))
    return None

  def init(self, key):
    k_sched, k_rule = jax.random.split(key)
    theta = {"schedule": init_schedule(k_sched, len(self.features), self.hidden_size)}
    inner = self._inner()
    if inner is not None:
      theta["rule"] = inner.init(k_rule)
    return theta

  def opt(self, theta, *, num_steps=None):
    inner = self._inner()
    if inner is None:
      rule = baselines.get(self.rule, **dict(self.rule_config))
    else:
      rule = inner.opt(theta["rule"], num_steps=num_steps)
    schedule = scale_by_learned_schedule(
      theta["schedule"], features=self.features, num_steps=num_steps
    )
    return mup.with_mup(optax.chain(rule, schedule), self.mup)

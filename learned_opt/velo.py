"""A VeLO-style rule: a per-tensor LSTM writes the weights of each tensor's per-parameter MLP.

Metz et al., VeLO: Training Versatile Learned Optimizers by Scaling Up, arXiv:2211.09760.

For each tensor, at every step, an LSTM (weights shared by all tensors, state per tensor)
reads tensor-level features z (by default: loss statistics, fraction of training, step
embeddings, tensor norms, rank and size) and emits mixing weights α = softmax(W_α h + b_α)
over a bank of K per-parameter MLPs and a log step size σ = w_σ · h + b_σ:

    (h, c) <- LSTM((h, c), z)
    θ_mlp = Σ_k α_k θ_k
    d, s  = MLP_{θ_mlp}(per-parameter features)
    p    <- p - d * exp(s * exp_mult) * exp(σ) * step_mult.

The per-parameter features are those of `learned_opt.mlp_lopt` by default.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from learned_opt import mup, nets
from learned_opt.base import LearnedOptimizer, map_tensors, rule_options
from learned_opt.features import FeatureBank, get
from learned_opt.features.schedule import LossStats, init_loss_stats
from learned_opt.mlp_lopt import DEFAULT_FEATURES

TENSOR_FEATURES = (
  "loss_log_ratio_first",
  "loss_log_ratio_ema",
  "train_frac",
  "step_tanh_10",
  "step_tanh_100",
  "step_tanh_1000",
  "log_param_rms",
  "log_grad_rms",
  "log_momentum_rms_0.9",
  "rank",
  "log_numel",
)


class VeLOState(NamedTuple):
  """State of `velo`: count, per tensor (feature statistics, LSTM (h, c)), loss statistics."""

  count: jax.Array
  per_tensor: Any
  loss: LossStats


def velo(
  theta: dict,
  *,
  features: tuple[str, ...],
  tensor_features: tuple[str, ...],
  lstm_size: int,
  exp_mult: float,
  step_mult: float,
  num_steps: jax.Array | int | None = None,
) -> optax.GradientTransformationExtraArgs:
  """The VeLO-style rule with meta-parameters `theta` (from `VeLO.init`) as optax.

  The options' defaults are `VeLO`'s fields (`VeLO(...).opt(theta)` is this rule).

  Args:
    theta: `{"lstm", "mix": {"w", "b"}, "log_step": {"w", "b"}, "mlps": [{"w", "b"}, ...]}`;
      the MLP bank's arrays have a leading axis of size K.
    features: the per-parameter inputs of the MLPs.
    tensor_features: the per-tensor or global inputs of the LSTM.
    lstm_size: the LSTM's hidden size.
    exp_mult, step_mult: as in `learned_opt.mlp_lopt`.
    num_steps: the training horizon (read by `train_frac`).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, and `value` when a
    feature reads the loss (the default tensor features do).
  """
  bank = FeatureBank((*features, *tensor_features))
  n = len(features)

  def init_tensor(p):
    zeros = jnp.zeros((lstm_size,), jnp.float32)
    return bank.init_leaf(p), (zeros, zeros)

  def init_fn(params):
    return VeLOState(
      count=jnp.zeros([], jnp.int32),
      per_tensor=jax.tree.map(init_tensor, params),
      loss=init_loss_stats(),
    )

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del extra_args
    glob, loss = bank.global_inputs(state.loss, state.count, value, num_steps, "velo")

    def leaf(g, p, s):
      stats, carry = s
      values, stats = bank.leaf(g, p, stats, state.count, glob)
      z = jnp.stack([jnp.asarray(v, jnp.float32) for v in values[n:]])
      h, c = nets.lstm_step(theta["lstm"], carry, z)
      alpha = jax.nn.softmax(h @ theta["mix"]["w"] + theta["mix"]["b"])
      layers = [jax.tree.map(lambda w: jnp.tensordot(alpha, w, 1), lay) for lay in theta["mlps"]]
      out = nets.per_param_mlp(layers, values[:n], p.shape)
      log_step = h @ theta["log_step"]["w"] + theta["log_step"]["b"]
      step = out[0] * jnp.exp(out[1] * exp_mult + log_step) * step_mult
      return (-step).astype(p.dtype), (stats, (h, c))

    steps, per_tensor = map_tensors(leaf, updates, params, state.per_tensor, init_tensor)
    return steps, VeLOState(count=state.count + 1, per_tensor=per_tensor, loss=loss)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclasses.dataclass(frozen=True)
class VeLO(LearnedOptimizer):
  """The VeLO-style learned optimizer; `opt(theta)` is `velo(theta, ...)`."""

  architecture: ClassVar[str] = "velo"
  hidden_sizes: tuple[int, ...] = (4,)
  num_mlps: int = 8
  lstm_size: int = 16
  features: tuple[str, ...] = DEFAULT_FEATURES
  tensor_features: tuple[str, ...] = TENSOR_FEATURES
  exp_mult: float = 1e-3
  step_mult: float = 1e-3
  mup: bool = False

  def __post_init__(self):
    object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
    object.__setattr__(self, "features", tuple(self.features))
    object.__setattr__(self, "tensor_features", tuple(self.tensor_features))
    FeatureBank((*self.features, *self.tensor_features))
    per_param = [n for n in self.tensor_features if get(n).scope == "param"]
    if per_param:
      raise ValueError(
        f"tensor_features must be per-tensor or global features; {per_param} are per-parameter."
      )
    if self.num_mlps < 1 or self.lstm_size < 1:
      raise ValueError("num_mlps and lstm_size must be positive.")

  def init(self, key):
    k_lstm, k_mix, k_mlps = jax.random.split(key, 3)
    sizes = (len(self.features), *self.hidden_sizes, 2)
    mlps = jax.vmap(lambda k: nets.init_mlp(k, sizes))(jax.random.split(k_mlps, self.num_mlps))
    return {
      "lstm": nets.init_lstm(k_lstm, len(self.tensor_features), self.lstm_size),
      "mix": {
        "w": 0.1 * jax.random.normal(k_mix, (self.lstm_size, self.num_mlps)),
        "b": jnp.zeros((self.num_mlps,)),
      },
      "log_step": {"w": jnp.zeros((self.lstm_size,)), "b": jnp.zeros([])},
      "mlps": mlps,
    }

  def opt(self, theta, *, num_steps=None):
    tx = velo(theta, **rule_options(self, velo), num_steps=num_steps)
    return mup.with_mup(tx, self.mup)

"""Muon with a learned residual direction and a learned, horizon-aware step-size schedule.

A learned rule that starts as the strongest untuned hand-designed rule we know and learns
only what it can improve. Muon (Jordan et al., https://kellerjordan.github.io/posts/muon/,
as `optax.contrib.muon`: Nesterov momentum at 0.95, Newton–Schulz orthogonalization of
matrices, NAdam at the same learning rate for vectors) with its learning rate decayed
linearly to zero over the run is that rule (issue 15). Here, per tensor at step t of T:

    c   = MLP(per-parameter features, each RMS-normalized over the tensor)   (zero at init)
    matrices (the `(prod(shape[:-1]), shape[-1])` view, `fan_in` rows, `fan_out` columns):
        u = b m̂_t + (1 - b) ĝ_t                      Nesterov momentum at b = 0.95, as optax
        d = NS5(u / rms(u) + c) * sqrt(max(1, fan_out / fan_in))
        η = learning_rate * exp(log_lr_matrix)
    vectors and scalars:
        d = (0.9 m̂_t + 0.1 ĝ_t) / (sqrt(v̂_t) + 1e-8) + c     NAdam at (0.9, 0.999), as optax
        η = learning_rate * exp(log_lr_vector)
    p <- p - η * (1 - t / T) * exp(s(t / T)) * d

`s` is piecewise linear in the fraction of training done, with learned values at
`schedule_knots` evenly spaced points.

With `snr_step`, each tensor's step is further multiplied by exp(a (2 ρ - 1)), a learned per
kind (`theta["snr"]["matrix"]`, `["vector"]`, zero at init) and ρ the tensor's gradient
signal-to-noise ratio mean(m̂²) / mean(v̂) in [0, 1] (Adam's bias-corrected moments at 0.9 and
0.999: near 1 when successive gradients agree, near (1 - 0.9) / (1 + 0.9) for pure noise).
The direction is scale-free, so without it the step's size depends on t/T only; this lets
the rule take smaller steps on noisier tasks (or larger ones) by a rule it learns.

With `odd_residual`, c is the odd part of the MLP under the reflection p -> -p (which flips
the gradient, the parameter and every momentum-like feature but not sign products such as
`sign_agreement`): c(x) = (MLP(x) - MLP(Rx)) / 2. Muon and Adam are equivariant under that
reflection and so is the rule then; c vanishes when the odd features do, so the residual adds
no constant drift (which, on a vector-parameter problem, moves the point the rule settles at).

With theta from `init` (the MLP's output layer, the log learning rates and the schedule at
zero) the rule *is* `muon(learning_rate)` under `optax.linear_schedule(1, 0, T)`, to float
rounding; meta-training moves it from there.
The direction is scale-free for matrices (orthogonalized) and Adam-normalized for vectors,
and the step size and its schedule sit outside the direction rule, as Celo and Celo2
recommend (Moudgil et al., arXiv:2501.12670, arXiv:2602.19142). The rule reads the horizon
T (`num_steps`), as every scheduled peer does, and never the loss.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.matrix import matrix_shape, newton_schulz
from learned_opt import nets
from learned_opt.base import LearnedOptimizer, map_tensors, rule_options
from learned_opt.features import FeatureBank
from learned_opt.features.base import bias_correction, safe_sqrt

DEFAULT_FEATURES = (
  "grad",
  "param",
  "momentum_0.5",
  "momentum_0.9",
  "momentum_0.99",
  "norm_momentum_0.9",
  "norm_momentum_0.99",
  "adam",
  "sign_agreement",
)
# The statistics the hand-designed part reads, computed by the bank whatever the MLP reads.
_NESTEROV = "momentum_0.95"
_ADAM_M, _ADAM_V = "momentum_0.9", "second_moment_0.999"
_REQUIRED = (_NESTEROV, "adam")
# Features that keep their sign under the reflection p -> -p (every other default feature flips).
REFLECTION_EVEN = frozenset({"sign_agreement"})
REFLECTION_ODD = frozenset(DEFAULT_FEATURES) - REFLECTION_EVEN
MUON_BETA, ADAM_B1, ADAM_B2, EPS = 0.95, 0.9, 0.999, 1e-8


class ResidualMuonState(NamedTuple):
  """State of `residual_muon`: step count and the features' statistics per tensor."""

  count: jax.Array
  stats: Any


def nesterov(m: jax.Array, g: jax.Array, beta: float, count: jax.Array) -> jax.Array:
  """optax's bias-corrected Nesterov blend `beta m̂_t + (1 - beta) ĝ_t` (EMA `m`, t = count+1)."""
  m_hat = m / bias_correction(beta, count + 1)
  g_hat = g / bias_correction(beta, count)
  return beta * m_hat + (1.0 - beta) * g_hat


def muon_orthogonalize(u: jax.Array) -> jax.Array:
  """NS5 of the matrix view of `u`, scaled by sqrt(max(1, fan_out / fan_in)) as optax's Muon."""
  rows, cols = matrix_shape(u.shape)
  d = newton_schulz(u.reshape(rows, cols)).reshape(u.shape)
  return d * jnp.sqrt(max(1.0, cols / rows))


def odd_part(layers: list, values: list[jax.Array], even: tuple[bool, ...], shape) -> jax.Array:
  """(MLP(x) - MLP(Rx)) / 2, R flipping the sign of every feature not marked `even`."""
  reflected = [v if e else -v for v, e in zip(values, even, strict=True)]
  plus = nets.per_param_mlp(layers, values, shape)[0]
  return 0.5 * (plus - nets.per_param_mlp(layers, reflected, shape)[0])


def gradient_snr(m: jax.Array, v: jax.Array, count: jax.Array) -> jax.Array:
  """mean(m̂²) / mean(v̂) over a tensor, clipped to [0, 1] (Adam's EMAs `m` at 0.9, `v` at
  0.999, bias-corrected at update count+1)."""
  m_hat = m / bias_correction(ADAM_B1, count)
  v_hat = v / bias_correction(ADAM_B2, count)
  return jnp.clip(jnp.mean(jnp.square(m_hat)) / (jnp.mean(v_hat) + 1e-30), 0.0, 1.0)


def schedule_multiplier(
  log_mults: jax.Array, count: jax.Array, num_steps: jax.Array | int
) -> jax.Array:
  """(1 - t/T) * exp(s(t/T)), `s` piecewise linear through `log_mults` at even knots."""
  frac = jnp.clip(count.astype(jnp.float32) / jnp.maximum(num_steps, 1), 0.0, 1.0)
  knots = jnp.linspace(0.0, 1.0, log_mults.shape[0])
  return (1.0 - frac) * jnp.exp(jnp.interp(frac, knots, log_mults))


def residual_muon(
  theta: dict,
  *,
  num_steps: jax.Array | int | None,
  features: tuple[str, ...],
  learning_rate: float,
  odd_residual: bool,
  snr_step: bool,
) -> optax.GradientTransformationExtraArgs:
  """The rule with meta-parameters `theta` (from `ResidualMuon.init`) as an optax optimizer.

  The options' defaults are `ResidualMuon`'s fields (`ResidualMuon(...).opt(theta)` is this
  rule).

  Args:
    theta: `{"layers": MLP, "log_lr": {"matrix", "vector"}, "schedule": [knots]}`, and
      `"snr": {"matrix", "vector"}` with `snr_step`.
    num_steps: the training horizon T; `update` fails clearly without it.
    features: the MLP's per-parameter inputs (`learned_opt.features.names()`); they may
      not read the loss.
    learning_rate: the step size at `log_lr = 0` before the schedule (Muon's default).
    odd_residual: use the reflection-odd part of the MLP as the residual (every feature
      must then be in `REFLECTION_EVEN` or `REFLECTION_ODD`).
    snr_step: multiply each tensor's step by exp(a (2 ρ - 1)), ρ its `gradient_snr` and a
      `theta["snr"]` of its kind (matrix or vector).

  Returns:
    An `optax.GradientTransformationExtraArgs` whose updates are the steps to add to the
    parameters; `update` needs `params`.
  """
  bank = FeatureBank(tuple(dict.fromkeys((*features, *_REQUIRED))))
  used = [bank.names.index(name) for name in features]
  even = tuple(name in REFLECTION_EVEN for name in features)
  stat_index = {s.name: i for i, s in enumerate(bank.stats)}
  lr_matrix = learning_rate * jnp.exp(theta["log_lr"]["matrix"])
  lr_vector = learning_rate * jnp.exp(theta["log_lr"]["vector"])

  def init_fn(params):
    return ResidualMuonState(jnp.zeros([], jnp.int32), jax.tree.map(bank.init_leaf, params))

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    if num_steps is None:
      raise ValueError(
        "residual_muon decays its step over the training horizon: build it with "
        "`opt(theta, num_steps=N)` or `learned_opt.load(path, num_steps=N)`."
      )
    count = state.count
    glob = {"num_steps": jnp.asarray(num_steps, jnp.float32)}
    mult = schedule_multiplier(theta["schedule"], count, num_steps)

    def leaf(g, p, stats):
      values, stats = bank.leaf(g, p, stats, count, glob)
      inputs = [values[i] for i in used]
      if odd_residual:
        c = odd_part(theta["layers"], inputs, even, p.shape)
      else:
        c = nets.per_param_mlp(theta["layers"], inputs, p.shape)[0]
      g32 = g.astype(jnp.float32)
      m, v = stats[stat_index[_ADAM_M]], stats[stat_index[_ADAM_V]]
      is_matrix = matrix_shape(p.shape) is not None
      snr_mult = 1.0
      if snr_step:
        a = theta["snr"]["matrix" if is_matrix else "vector"]
        snr_mult = jnp.exp(a * (2.0 * gradient_snr(m, v, count) - 1.0))
      if is_matrix:
        u = nesterov(stats[stat_index[_NESTEROV]], g32, MUON_BETA, count)
        u = u * jax.lax.rsqrt(jnp.mean(jnp.square(u)) + 1e-30)
        step = lr_matrix * muon_orthogonalize(u + c)
      else:
        v_hat = v / bias_correction(ADAM_B2, count)
        step = lr_vector * (nesterov(m, g32, ADAM_B1, count) / (safe_sqrt(v_hat) + EPS) + c)
      return (-mult * snr_mult * step).astype(p.dtype), stats

    steps, stats = map_tensors(leaf, updates, params, state.stats, bank.init_leaf)
    return steps, ResidualMuonState(count=count + 1, stats=stats)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclasses.dataclass(frozen=True)
class ResidualMuon(LearnedOptimizer):
  """Muon + a learned residual direction + a learned schedule; `opt(theta, num_steps=T)`."""

  architecture: ClassVar[str] = "residual_muon"
  hidden_sizes: tuple[int, ...] = (8,)
  features: tuple[str, ...] = DEFAULT_FEATURES
  learning_rate: float = 0.02
  schedule_knots: int = 9
  learn_direction: bool = True
  odd_residual: bool = False
  snr_step: bool = False

  def __post_init__(self):
    object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
    bank = FeatureBank(self.features)
    object.__setattr__(self, "features", bank.names)
    if bank.reading("value"):
      raise ValueError(f"residual_muon does not read the loss; remove {bank.reading('value')}.")
    unknown = set(self.features) - REFLECTION_EVEN - REFLECTION_ODD
    if self.odd_residual and unknown:
      raise ValueError(
        f"odd_residual needs each feature's parity under p -> -p; unknown for {sorted(unknown)}: "
        f"use features from {sorted(REFLECTION_EVEN | REFLECTION_ODD)}."
      )
    if self.schedule_knots < 2:
      raise ValueError(f"schedule_knots must be at least 2, got {self.schedule_knots}.")

  def init(self, key):
    layers = nets.init_mlp(key, (len(self.features), *self.hidden_sizes, 1))
    layers[-1] = jax.tree.map(jnp.zeros_like, layers[-1])  # starts as Muon: no correction
    theta = {
      "layers": layers,
      "log_lr": {"matrix": jnp.zeros([]), "vector": jnp.zeros([])},
      "schedule": jnp.zeros((self.schedule_knots,)),
    }
    if self.snr_step:
      theta["snr"] = {"matrix": jnp.zeros([]), "vector": jnp.zeros([])}
    return theta

  def opt(self, theta, *, num_steps=None):
    if not self.learn_direction:  # an ablation: only the step sizes and schedule are learned
      theta = {**theta, "layers": jax.tree.map(jnp.zeros_like, theta["layers"])}
    return residual_muon(theta, num_steps=num_steps, **rule_options(self, residual_muon))

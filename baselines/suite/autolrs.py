"""AutoLRS (inventory T5-31): a learning-rate schedule found on the fly by Bayesian
optimization with short look-ahead runs, as a tuner of the comparison suite
(`config.tune.method = "autolrs"`).

Training is cut into stages of tau steps (the first `first_stage * num_steps`, each next
twice as long, the last cut at `num_steps`). At the start of a stage, from the current
parameters and optimizer state (a snapshot), each of `candidates` learning rates trains
tau' = `lookahead * tau` steps; an exponential model a * exp(-r t) + c fitted to the
look-ahead's training losses (mean over the tuning seeds) predicts the loss after tau
steps. The candidates are chosen one after the other by Bayesian optimization over log10
of the learning rate in the entry's search range: a Gaussian process (Matern 5/2 plus
noise, scikit-learn) and the lower confidence bound mu - kappa * sigma, the first one at
random. The candidate of lowest prediction then trains the stage from the snapshot (the
look-ahead steps are spent, not kept). The result is a piecewise-constant schedule, one
learning rate per stage: the suite's setting `{"learning_rate": (lr_1, ...),
"stage_steps": (tau_1, ...)}`, which `as_hparams` turns into an optax schedule, so that it
is rerun on the reported seeds like a grid's selected setting.

Tuning cost per tuning seed: `num_steps` (the stages) plus the look-ahead steps
(`Result.lookahead_steps`), against `grid_points x num_steps` for the grid.

Checked against the authors' code (YuchenJin/autolrs, autolrs_server.py): 10 candidates per
stage, tau' = tau / 10, both doubling each stage, scikit-optimize's GP with LCB and
kappa = 1e6 (exploration: the candidates spread over the range), a predicted loss of 1e6
for a diverged candidate, the best predicted candidate restored and trained. Kept: the
fit uses the mean training loss over the tuning seeds instead of the authors' spline
outlier filter on one run's losses; stage lengths are fractions of the suite's horizon
(the authors': 1000 steps, look-ahead 100); no switch to validation losses in late stages.

References:
  Jin, Zhou, Ou, Xing, Gao, Chen & Wang, AutoLRS: Automatic Learning-Rate Schedule by
  Bayesian Optimization on the Fly, ICLR 2021, arXiv:2105.10762.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from baselines.registry import LogRange
from tasks.base import SPLITS, Task
from tasks.training import step_fn

DIVERGED = 1e6  # the authors' predicted loss of a candidate whose losses are not finite
_POOL = 256  # log-spaced learning rates the acquisition is minimized over
_RATES = np.logspace(-5, 1, 121)  # decay rates r per step tried by the exponential fit


@dataclasses.dataclass(frozen=True)
class Options:
  """AutoLRS's knobs (the suite's `config.tune.autolrs`)."""

  first_stage: float = 0.2  # tau_1 as a fraction of num_steps
  lookahead: float = 0.1  # tau' as a fraction of the stage
  candidates: int = 10
  kappa: float = 1e6
  seed: int = 0

  def chunk(self, num_steps: int) -> int:
    """The steps of one compiled look-ahead chunk (tau_1'); `ValueError` when the stages
    do not fit `num_steps` in whole chunks."""
    chunk = round(num_steps * self.first_stage * self.lookahead)
    if chunk < 1 or num_steps % chunk or self.candidates < 2:
      raise ValueError(
        f"tune.autolrs: first_stage={self.first_stage} x lookahead={self.lookahead} x "
        f"num_steps={num_steps} must give a whole number of steps >= 1 dividing num_steps, "
        f"and candidates={self.candidates} must be >= 2."
      )
    return chunk


@dataclasses.dataclass(frozen=True)
class Result:
  """The schedule found, and what it cost per tuning seed."""

  learning_rates: tuple[float, ...]
  stage_steps: tuple[int, ...]
  lookahead_steps: int  # look-ahead steps spent, per tuning seed
  predictions: tuple[tuple[tuple[float, float], ...], ...]  # per stage: (lr, predicted loss)

  def setting(self) -> dict[str, Any]:
    return {"learning_rate": self.learning_rates, "stage_steps": self.stage_steps}


def as_hparams(setting: Mapping[str, Any]) -> dict[str, Any]:
  """A suite setting with the factory's arguments: an AutoLRS schedule (tuples under
  `learning_rate` and `stage_steps`) becomes a piecewise-constant optax schedule; any other
  setting is returned as it is."""
  if "stage_steps" not in setting:
    return dict(setting)
  lrs = jnp.asarray(setting["learning_rate"], jnp.float32)
  bounds = jnp.asarray(np.cumsum(setting["stage_steps"])[:-1], jnp.int32)
  out = {k: v for k, v in setting.items() if k != "stage_steps"}
  out["learning_rate"] = lambda count: lrs[jnp.sum(count >= bounds)]
  return out


def forecast(losses: np.ndarray, at: int) -> float:
  """The loss at step `at` (1-based, counted from the look-ahead's start) predicted by the
  least-squares fit of a * exp(-r t) + c to `losses` at t = 1..len(losses), r over a
  log-spaced grid; `DIVERGED` when a loss is not finite."""
  y = np.asarray(losses, np.float64)
  if not np.all(np.isfinite(y)):
    return DIVERGED
  t = np.arange(1, len(y) + 1, dtype=np.float64)
  best = (math.inf, float(y[-1]))
  for r in _RATES:
    a = np.stack([np.exp(-r * t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    residual = float(np.sum((a @ coef - y) ** 2))
    if residual < best[0]:
      best = (residual, float(coef[0] * math.exp(-r * at) + coef[1]))
  return best[1] if math.isfinite(best[1]) else DIVERGED


def _next_candidate(xs: list[float], ys: list[float], pool: np.ndarray, kappa: float) -> float:
  """The pool point (log10 lr) of lowest mu - kappa * sigma under a GP fitted to (xs, ys),
  never one already tried."""
  kernel = ConstantKernel() * Matern(nu=2.5) + WhiteKernel()
  gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
  with warnings.catch_warnings():  # kernel hyperparameters at their bounds on few points
    warnings.simplefilter("ignore", ConvergenceWarning)
    gp.fit(np.asarray(xs)[:, None], np.asarray(ys))
  mu, sigma = gp.predict(pool[:, None], return_std=True)
  score = mu - kappa * sigma
  score[np.isin(pool, xs)] = np.inf
  return float(pool[int(np.argmin(score))])


def search(
  task: Task,
  make_opt: Callable[[Mapping[str, Any]], optax.GradientTransformation],
  space: LogRange,
  seeds: tuple[int, ...],
  *,
  num_steps: int,
  extra_args: tuple[str, ...],
  options: Options,
) -> Result:
  """AutoLRS over `num_steps` steps of `task` from each of `seeds` (their runs start as
  `tasks.training.curve_run`'s: same initialization and batches), the learning rate in
  `space`; `make_opt({"learning_rate": lr})` builds the optimizer of one learning rate."""
  chunk = options.chunk(num_steps)
  samplers = {split: task.batches(split) for split in SPLITS}
  keys = [jax.random.split(jax.random.PRNGKey(s), 3) for s in seeds]
  step_keys = jnp.stack([jax.random.split(k[1], num_steps) for k in keys])

  def start(k_init):
    params = task.init(k_init)
    return params, optax.with_extra_args_support(make_opt({"learning_rate": 1.0})).init(params)

  @jax.jit
  def run_chunk(carry, lr, ks, samplers):
    opt = optax.with_extra_args_support(make_opt({"learning_rate": lr}))
    step = step_fn(task, opt, samplers["train"], extra_args)
    return jax.vmap(lambda c, k: jax.lax.scan(step, c, k))(carry, ks)

  def train(carry, lr, first, length):
    losses = []
    for s in range(first, first + length, chunk):
      carry, out = run_chunk(carry, jnp.float32(lr), step_keys[:, s : s + chunk], samplers)
      losses.append(np.asarray(out))
    return carry, np.mean(np.concatenate(losses, axis=1), axis=0)

  carry = jax.jit(jax.vmap(start))(jnp.stack([k[0] for k in keys]))
  rng = np.random.default_rng(options.seed)
  pool = np.linspace(math.log10(space.low), math.log10(space.high), _POOL)
  lrs, stages, predictions = [], [], []
  spent, t = 0, 0
  tau = max(chunk, round(num_steps * options.first_stage / chunk) * chunk)
  while t < num_steps:
    length = min(tau, num_steps - t)
    ahead = min(max(chunk, round(tau * options.lookahead) // chunk * chunk), length)
    xs, ys = [], []
    for i in range(options.candidates):
      x = float(rng.choice(pool)) if i == 0 else _next_candidate(xs, ys, pool, options.kappa)
      _, losses = train(carry, 10.0**x, t, ahead)
      xs.append(x)
      ys.append(min(forecast(losses, length), DIVERGED))
      spent += ahead
    best = 10.0 ** xs[int(np.argmin(ys))]
    carry, _ = train(carry, best, t, length)
    lrs.append(best)
    stages.append(length)
    predictions.append(tuple((10.0**x, y) for x, y in zip(xs, ys, strict=True)))
    t += length
    tau *= 2
  return Result(tuple(lrs), tuple(stages), spent, tuple(predictions))

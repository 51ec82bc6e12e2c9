"""CEHPO (inventory T5-42): the cross-entropy method over an optimizer's hyperparameters, as
a tuner of the comparison suite (`config.tune.method = "cehpo"`).

A sampling distribution over the tuned hyperparameters (for each `LogRange`, a normal
distribution over log10 of the value, clipped to the range, starting at the range's centre
with a standard deviation of half its width; for each `Choice`, a categorical distribution,
uniform at the start) is refined for `iterations` rounds: draw `population` settings, train
each on the tuning seeds (one vmapped sweep per round), score each by the suite's selection
score (`baselines.suite.report.selection_score`: the median final validation loss), keep the
`elite_fraction` best (the elite) and move the distribution to the elite's maximum-likelihood
fit, smoothed: new = (1 - smoothing) * old + smoothing * fit (mean and standard deviation;
category probabilities). As the paper analyses it, this is expectation maximization: the
elite's indicator is the E-step weight, the refit the M-step. The selected setting is the
best one evaluated, the same one `report.select` picks from the tuning runs.

Tuning cost: `iterations x population` settings, each a full run per tuning seed, against
the grid's `grid_points ** dims` (or `grid_points` for the learning rate alone).

Checked against the paper's algorithm (no code is public): the CE method with elite
quantile and smoothed parameter updates (Rubinstein & Kroese's standard form, which the
paper follows); the paper states no population, elite fraction or smoothing (the defaults
in `configs/suite_smoke.py` are ours), and adapts hyperparameters during training where
here each setting is fixed over a run.

References:
  Li & Li, Cross-Entropy Optimization for Hyperparameter Optimization in Stochastic
  Gradient-based Approaches to Train Deep Neural Networks, arXiv:2409.09240.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from baselines.registry import Choice, LogRange, SearchDim


@dataclasses.dataclass(frozen=True)
class Options:
  """CEHPO's knobs (the suite's `config.tune.cehpo`)."""

  population: int = 6
  iterations: int = 3
  elite_fraction: float = 1 / 3
  smoothing: float = 0.7
  seed: int = 0

  def num_elite(self) -> int:
    """The elite's size; `ValueError` unless 1 <= it < population and 0 < smoothing <= 1."""
    n = round(self.population * self.elite_fraction)
    if not (1 <= n < self.population and self.iterations >= 1 and 0 < self.smoothing <= 1):
      raise ValueError(
        f"tune.cehpo: population={self.population} x elite_fraction={self.elite_fraction} "
        f"must give an elite of at least 1 and fewer than the population, iterations="
        f"{self.iterations} >= 1, and 0 < smoothing={self.smoothing} <= 1."
      )
    return n


def search(
  space: Mapping[str, SearchDim],
  evaluate: Callable[[list[dict[str, Any]]], list[float]],
  options: Options,
) -> list[tuple[dict[str, Any], float]]:
  """The cross-entropy method over `space`; `evaluate(settings)` scores a population
  (lower is better; `inf` for a diverged run).

  Returns:
    Every evaluated setting with its score, in evaluation order.
  """
  num_elite = options.num_elite()
  rng = np.random.default_rng(options.seed)
  logs = {d: s for d, s in space.items() if isinstance(s, LogRange)}
  choices = {d: s for d, s in space.items() if isinstance(s, Choice)}
  bounds = {d: (math.log10(s.low), math.log10(s.high)) for d, s in logs.items()}
  mean = {d: (lo + hi) / 2 for d, (lo, hi) in bounds.items()}
  std = {d: max((hi - lo) / 2, 1e-3) for d, (lo, hi) in bounds.items()}
  probs = {d: np.full(len(s.values), 1 / len(s.values)) for d, s in choices.items()}
  history: list[tuple[dict[str, Any], float]] = []
  for _ in range(options.iterations):
    draws = []
    for _ in range(options.population):
      setting: dict[str, Any] = {}
      for d in space:
        if d in logs:
          x = float(np.clip(rng.normal(mean[d], std[d]), *bounds[d]))
          setting[d] = 10.0**x
        else:
          setting[d] = choices[d].values[int(rng.choice(len(probs[d]), p=probs[d]))]
      draws.append(setting)
    scores = [float(v) if math.isfinite(v) else math.inf for v in evaluate(draws)]
    history += list(zip(draws, scores, strict=True))
    elite = [draws[i] for i in np.argsort(scores, kind="stable")[:num_elite]]
    a = options.smoothing
    for d in logs:
      x = np.log10([e[d] for e in elite])
      mean[d] = (1 - a) * mean[d] + a * float(np.mean(x))
      std[d] = max((1 - a) * std[d] + a * float(np.std(x)), 1e-3)
    for d, s in choices.items():
      freq = np.array([sum(e[d] == v for e in elite) for v in s.values], float) / num_elite
      probs[d] = (1 - a) * probs[d] + a * freq
  return history

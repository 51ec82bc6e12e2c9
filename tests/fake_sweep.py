"""A stand-in for `baselines.suite.sweep.sweep` in the suite's cell tests: no training, no
compilation; the final validation loss of a setting is (log10 learning_rate + 2)^2."""

import math

import numpy as np

from baselines.suite.sweep import SweepResult


def fake_sweep(calls):
  """A stand-in for `baselines.suite.sweep.sweep` (no compilation): the final validation
  loss of a setting is (log10 learning_rate + 2)^2; `calls` gets (batch size, settings)."""

  def sweep(task, make_opt, settings, seeds, protocol, programs=None):
    calls.append((getattr(task, "batch_size", None), [dict(s) for s in settings]))
    runs = []
    for s in settings:
      v = (math.log10(s["learning_rate"]) + 2.0) ** 2
      n = len(seeds)
      runs.append(
        {
          "train_loss": np.full((n, protocol.num_steps), v),
          "valid_loss": np.full((n, protocol.num_evals), v),
          "final_train_loss": np.full(n, v),
          "final_test_loss": np.full(n, v),
        }
      )
    return SweepResult(runs, [True] * len(settings), 1)

  return sweep

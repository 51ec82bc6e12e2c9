"""The comparison suite: every registered optimizer tuned the same way on a suite of tasks,
next to learned optimizers, and one report. `python -m baselines.compare` runs it.

  compare.py   the run: set-up, the cell loop, the report
  cells.py     `Suite`: validated config, tuning grids, defaults, learned checkpoints; cells
  sweep.py     settings x seeds of one task as one jitted program
  report.py    selection, tables, targets, scores, figures from `results.jsonl` alone
  scoring.py   steps to target, performance profiles, IQM speedups
  plots.py     the report's figures

The only part of `baselines` that imports `tasks` and `learned_opt`; `baselines` itself
never imports it.
"""

from baselines.suite.cells import PROTOCOL_KEYS, Suite

__all__ = ["PROTOCOL_KEYS", "Suite"]

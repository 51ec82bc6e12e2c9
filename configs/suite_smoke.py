"""The smoke comparison (CI): 2 tiny tasks, AdamW and Lion on a 3-point learning-rate grid.

    python -m baselines.compare --config=configs/suite_smoke.py \
        [--config.learned='("pretrained:residual_muon_v2",)'] [--config.outdir=runs/suite_smoke]

Under a minute on 2 CPU cores (most of it compilation: one program per cell). Checks the
machinery, not the optimizers: 100 steps are far too few to rank anything.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.name = "suite_smoke"
  config.outdir = "runs/suite_smoke"
  config.tasks = ("quadratic_10d", "digits_logreg")
  # Registered optimizers (`baselines.names()`); each is tuned, its selected setting rerun,
  # and also run at its defaults.
  config.optimizers = ("adamw", "lion")
  # Learned-optimizer checkpoints (a checkpoint directory or a meta-training workdir).
  config.learned = ()
  config.defaults_column = True
  # The tuned optimizer whose final validation loss is every task's target.
  config.reference = "adamw"
  config.r_max = 4.0

  # The run protocol (an outdir keeps one; see baselines.suite.PROTOCOL_KEYS).
  config.num_steps = 100
  config.num_evals = 5
  config.eval_batches = 4
  # Tuning seeds 0..num_seeds-1 (selection only); every reported number comes from the
  # seeds rerun_seed_offset..rerun_seed_offset+num_seeds-1: the selected setting rerun, the
  # defaults and the learned optimizers (baselines.suite).
  config.num_seeds = 3
  config.rerun_seed_offset = 1000
  config.tune = ml_collections.ConfigDict(
    {
      # Hyperparameters tuned where in an optimizer's search space ("*": all of it);
      # grid_points per log-scale range (Choice values are all taken).
      "params": ("learning_rate",),
      "grid_points": 3,
      # The tuner of registered optimizers: "grid", "cehpo" (the cross-entropy method,
      # baselines.suite.cehpo) or "autolrs" (a learning-rate schedule found on the fly,
      # baselines.suite.autolrs; tune.params must be ("learning_rate",)).
      "method": "grid",
      # Settings drawn per round, rounds, the best fraction refitted, the refit's weight.
      "cehpo": {"population": 4, "iterations": 2, "elite_fraction": 0.5, "smoothing": 0.7},
      # First stage (fraction of num_steps; each next twice as long), look-ahead (fraction
      # of a stage), candidates per stage, the LCB's kappa (the authors' values).
      "autolrs": {"first_stage": 0.2, "lookahead": 0.1, "candidates": 10, "kappa": 1e6},
      # Tune at this batch size instead of each task's own and rescale the selected
      # setting to the task's batch size (baselines.schedules.batch_scaling); 0: off.
      "batch_size": 0,
    }
  )
  return config

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
    # Hyperparameters tuned where in an optimizer's search space ("*": all of it);
    # grid_points per log-scale range (Choice values are all taken).
    {"params": ("learning_rate",), "grid_points": 3}
  )
  return config

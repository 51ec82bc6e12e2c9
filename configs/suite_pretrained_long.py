"""Horizon generalization of the shipped rule: 20,000 steps, 10x its longest meta-training
horizon (2,000), next to tuned AdamW and Muon with linear decay at the same horizon.

    python -m baselines.compare --config=configs/suite_pretrained_long.py

Two cheap held-out tasks; about 10-20 minutes on 2 CPU cores.
"""

from configs import suite_pretrained


def get_config():
  config = suite_pretrained.get_config()
  config.name = "suite_pretrained_long"
  config.outdir = "runs/suite_pretrained_long"
  config.tasks = ("digits_mlp_64x64", "fashion_mnist_logreg_16px")
  config.optimizers = ("adamw",)
  config.untuned = ("muon_linear_decay",)
  config.learned_tuned = ()
  config.num_steps = 20000
  config.num_evals = 20
  config.tune.grid_points = 6
  return config

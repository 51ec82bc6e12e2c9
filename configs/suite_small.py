"""The small comparison: 8 tasks x 16 optimizers, each tuned on an 8-point learning-rate grid.

    python -m baselines.compare --config=configs/suite_small.py \
        [--config.learned='("pretrained:residual_muon_v2",)'] [--config.outdir=runs/suite_small]

About 10-20 minutes on 2 CPU cores (measured: 128 baseline cells + 8 learned at 3-15 s per
cell), nearly all of it compilation: one program per cell, 8 learning rates x 3 tuning
seeds, vmapped, run again (no second compilation) for the selected rate and the paper
default on 3 fresh seeds. Rerunning resumes. Tasks: the
meta-training quadratics and Rosenbrock, digits classifiers (two of them held out from
meta-training: the 2-hidden-layer MLP and the autoencoder). Schedules get the 500-step
horizon; adamw_warmup_cosine is left out because its factory needs a concrete learning rate
(one program per grid point: ~10x the cost of a cell).
"""

from configs import suite_smoke


def get_config():
  config = suite_smoke.get_config()
  config.name = "suite_small"
  config.outdir = "runs/suite_small"
  config.tasks = (
    "quadratic_10d_illcond",
    "quadratic_10d_noisy",
    "rosenbrock_2d",
    "digits_logreg",
    "digits_mlp_32",
    "digits_mlp_32_tanh",
    "digits_mlp_64x64",
    "digits_autoencoder",
  )
  config.optimizers = (
    "adamw",
    "adam",
    "nadam",
    "radam",
    "adabelief",
    "adopt",
    "lamb",
    "lion",
    "soap",
    "muon",
    "adafactor",
    "rmsprop",
    "momentum",
    "nesterov",
    "ademamix",
    "adamw_linear_decay",
  )
  config.num_steps = 500
  config.num_evals = 20
  config.eval_batches = 8
  config.tune.grid_points = 8
  return config
